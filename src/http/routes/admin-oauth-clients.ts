import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { adminDeleteClient, adminGetClient, adminListClients, createClient } from "../../oidc/clients";
import { OAUTH_SCOPES } from "../../oidc/scopes";
import type { AppEnv } from "../../web/context";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, jsonResponse, noContent, problems, security } from "../openapi";
import { validationHook } from "../validation";

/**
 * `/api/v1/admin/oauth/clients`: the OAuth clients of Gatehouse as an OpenID provider (API.md
 * v1.2). Mounted inside the administration routes (admin.ts), behind their gate.
 */
export const adminOAuthClientRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["Administration"];
const ADMIN_ERRORS = [...AUTH_ERRORS, "insufficient_scope", "forbidden"] as const;

const uris = z.array(z.string().min(1).max(2000)).max(20);
const newClientBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    redirect_uris: uris.min(1),
    type: z.enum(["public", "confidential"]),
    first_party: z.boolean().optional(),
    post_logout_redirect_uris: uris.optional(),
    scopes: z.array(z.enum(OAUTH_SCOPES)).optional(),
  })
  .openapi("NewOAuthClient");

const ClientSchema = z
  .object({
    client_id: z.string(),
    name: z.string(),
    type: z.enum(["public", "confidential"]),
    redirect_uris: z.array(z.string()),
    post_logout_redirect_uris: z.array(z.string()),
    scopes: z.array(z.string()).nullable(),
    first_party: z.boolean(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
  })
  .openapi("OAuthClient");

const create = createRoute({
  method: "post",
  path: "/oauth/clients",
  tags,
  summary: "Register an OAuth client",
  description:
    "Redirect URIs: https, loopback http (any port on 127.0.0.1 / [::1] matches), or a reverse-domain private-use scheme; never javascript:, data: or a fragment. A confidential client's `client_secret` is shown in this answer only. `first_party` clients skip consent.",
  security: security.accessToken,
  request: { body: jsonBody(newClientBody) },
  responses: {
    201: jsonResponse(ClientSchema.extend({ client_secret: z.string().optional() }), "The client (and its secret, once)."),
    ...problems([...BODY_ERRORS, ...ADMIN_ERRORS]),
  },
});

adminOAuthClientRoutes.openapi(create, async (c) =>
  c.json(await createClient(c.var.deps, c.var.principal.user.id, c.req.valid("json")), 201),
);

const list = createRoute({
  method: "get",
  path: "/oauth/clients",
  tags,
  summary: "List OAuth clients",
  security: security.accessToken,
  responses: { 200: jsonResponse(z.object({ clients: z.array(ClientSchema) }), "Oldest first."), ...problems([...ADMIN_ERRORS]) },
});

adminOAuthClientRoutes.openapi(list, async (c) => c.json({ clients: await adminListClients(c.var.deps) }, 200));

const idParam = z.object({ id: z.string().min(1).max(64) });

const get = createRoute({
  method: "get",
  path: "/oauth/clients/{id}",
  tags,
  summary: "One OAuth client",
  security: security.accessToken,
  request: { params: idParam },
  responses: { 200: jsonResponse(ClientSchema, "The client."), ...problems([...ADMIN_ERRORS, "validation_failed", "not_found"]) },
});

adminOAuthClientRoutes.openapi(get, async (c) => c.json(await adminGetClient(c.var.deps, c.req.valid("param").id), 200));

const remove = createRoute({
  method: "delete",
  path: "/oauth/clients/{id}",
  tags,
  summary: "Delete an OAuth client",
  description: "Its codes and tokens stop working at once (their client is gone).",
  security: security.accessToken,
  request: { params: idParam },
  responses: { 204: noContent, ...problems([...ADMIN_ERRORS, "validation_failed", "not_found"]) },
});

adminOAuthClientRoutes.openapi(remove, async (c) => {
  await adminDeleteClient(c.var.deps, c.var.principal.user.id, c.req.valid("param").id);
  return c.body(null, 204);
});
