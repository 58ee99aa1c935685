import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../web/context";
import { AppError } from "../../errors";
import type { ApiKeyScope } from "../../api-keys/api-keys";

/**
 * For ordinary endpoints an API key may use: the key must hold `scope`, else 403
 * `insufficient_scope` (with the RFC 6750 challenge naming the scope). Access tokens carry the
 * user's full rights and pass. Place after `requireAuth()`.
 */
export function requireScope(scope: ApiKeyScope) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const { principal } = c.var;
    if (principal.kind === "api_key" && !principal.apiKey.scopes.includes(scope)) {
      throw new AppError("insufficient_scope", {
        detail: `This API key lacks the "${scope}" scope.`,
        headers: { "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${scope}"` },
      });
    }
    await next();
  });
}
