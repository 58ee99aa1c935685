import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ownGrants, revokeGrant } from "../../oidc/grants";
import type { AppEnv } from "../../web/context";
import { requireInteractiveSession } from "../middleware/require-auth";
import { AUTH_ERRORS, jsonResponse, noContent, problems, security } from "../openapi";
import { validationHook } from "../validation";

/** `/api/v1/users/me/grants`: the apps the caller allowed (Gatehouse as an OpenID provider), and removing one. */
export const grantRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["OpenID provider"];
const SESSION_ONLY = [...AUTH_ERRORS, "insufficient_scope"] as const;

const GrantListSchema = z
  .object({ grants: z.array(z.object({ client_id: z.string(), name: z.string(), scopes: z.array(z.string()), created_at: z.string() })) })
  .openapi("GrantList");

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Apps with access",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: { 200: jsonResponse(GrantListSchema, "Oldest first."), ...problems([...SESSION_ONLY]) },
});

grantRoutes.openapi(list, async (c) => c.json({ grants: await ownGrants(c.var.deps, c.var.session.user.id) }, 200));

const remove = createRoute({
  method: "delete",
  path: "/{client_id}",
  tags,
  summary: "Remove an app's access",
  description:
    "Its refresh tokens are revoked at once and its access tokens refused by userinfo and introspection; event `user.grant_revoked`.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { params: z.object({ client_id: z.string().min(1).max(64) }) },
  responses: { 204: noContent, ...problems([...SESSION_ONLY, "validation_failed", "not_found"]) },
});

grantRoutes.openapi(remove, async (c) => {
  await revokeGrant(c.var.deps, c.var.session.user.id, c.req.valid("param").client_id);
  return c.body(null, 204);
});
