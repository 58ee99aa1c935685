import { createMiddleware } from "hono/factory";
import { AppError } from "../../errors";
import type { AppEnv } from "../../web/context";
import { requireAuth, requireInteractiveSession } from "./require-auth";

/**
 * The administration API's gate: an access token (API keys get 403 `insufficient_scope`) of a
 * superuser (anyone else gets 403 `forbidden`).
 */
export function requireSuperuser() {
  const superuser = createMiddleware<AppEnv>(async (c, next) => {
    if (!c.var.principal.user.isSuperuser) throw new AppError("forbidden", { detail: "Administrators only." });
    await next();
  });
  return [requireAuth(), requireInteractiveSession(), superuser] as const;
}
