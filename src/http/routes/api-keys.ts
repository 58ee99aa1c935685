import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { createApiKey, listApiKeys, revokeApiKey } from "../../api-keys/api-keys";
import type { AppEnv } from "../../web/context";
import { requireInteractiveSession } from "../middleware/require-auth";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, jsonResponse, noContent, problems, security } from "../openapi";
import { ApiKeyListSchema, apiKeyIdParam, createApiKeyBody, CreatedApiKeySchema } from "../../web/schemas";
import { validationHook } from "../validation";

/**
 * `/api/v1/users/me/api-keys`, mounted from users.ts behind `requireAuth()`. Managing keys is
 * credential management, so an API key itself gets 403 `insufficient_scope` here.
 */
export const apiKeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["API keys"];
const SESSION_ONLY = [...AUTH_ERRORS, "insufficient_scope"] as const;

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create an API key",
  description:
    "The key itself (`api_key`) is in this answer only. Needs `current_password` unless the access token's session proved the password within the last 5 minutes (`auth_time`). Keys expire after `expires_in_days` (default 90, at most the configured maximum; `null` = never, only where configured). At most 25 live keys per user; the owner is told by mail.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { body: jsonBody(createApiKeyBody) },
  responses: {
    201: jsonResponse(CreatedApiKeySchema, "The new key."),
    ...problems([
      ...BODY_ERRORS,
      ...SESSION_ONLY,
      "reauthentication_required",
      "invalid_current_password",
      "email_not_verified",
      "account_locked",
      "rate_limited",
    ]),
  },
});

apiKeyRoutes.openapi(create, async (c) => c.json(await createApiKey(c.var.deps, c.var.session, c.req.valid("json")), 201));

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The caller's API keys",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: {
    200: jsonResponse(ApiKeyListSchema, "Unrevoked keys, newest first, without the keys themselves."),
    ...problems([...SESSION_ONLY]),
  },
});

apiKeyRoutes.openapi(list, async (c) => c.json({ api_keys: await listApiKeys(c.var.deps, c.var.session.user) }, 200));

const revoke = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Revoke an API key",
  description: "Effective at once.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { params: apiKeyIdParam },
  responses: { 204: noContent, ...problems([...SESSION_ONLY, "not_found"]) },
});

apiKeyRoutes.openapi(revoke, async (c) => {
  await revokeApiKey(c.var.deps, c.var.session.user, c.req.valid("param").id);
  return c.body(null, 204);
});
