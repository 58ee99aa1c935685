import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { discoveryDocument } from "../../oidc/discovery";
import type { AppEnv } from "../../web/context";
import { jsonResponse, problems } from "../openapi";
import { HealthSchema, JwksSchema, OpenIdConfigurationSchema } from "../../web/schemas";

/**
 * Public, unauthenticated endpoints: the JWKS, the discovery document, the change-password URL
 * and the health check.
 */
export const wellKnownRoutes = new OpenAPIHono<AppEnv>();

const tags = ["Discovery"];
/** Verifiers may cache the key set briefly; rotation keeps old keys published for longer than this. */
const JWKS_CACHE = "public, max-age=300, stale-while-revalidate=60";

const jwks = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags,
  summary: "Public keys that verify access tokens",
  responses: { 200: jsonResponse(JwksSchema, "The JSON Web Key Set (public parts only)."), ...problems([]) },
});

wellKnownRoutes.openapi(jwks, async (c) => c.json({ keys: (await c.var.deps.keys()).publicJwks }, 200, { "Cache-Control": JWKS_CACHE }));

for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
  const discovery = createRoute({
    method: "get",
    path,
    tags,
    summary: path.endsWith("openid-configuration") ? "OpenID Connect Discovery" : "OAuth 2.0 Authorization Server Metadata (RFC 8414)",
    description:
      "The issuer, its keys and, with the OpenID provider on (JWT_ISSUER equal to PUBLIC_URL), the provider's endpoints: only what works. Any origin may read it.",
    responses: { 200: jsonResponse(OpenIdConfigurationSchema, "Discovery metadata."), ...problems([]) },
  });
  wellKnownRoutes.openapi(discovery, (c) => c.json(discoveryDocument(c.var.deps.config), 200, { "Cache-Control": JWKS_CACHE }));
}

/** The account page's password section: the hosted pages' one place to change a password. */
const CHANGE_PASSWORD_PAGE = "/account#password";

const changePassword = createRoute({
  method: "get",
  path: "/.well-known/change-password",
  tags,
  summary: "Where to change a password (W3C “A Well-Known URL for Changing Passwords”)",
  description:
    "Password managers send people here to change a password: a redirect to the account page's password section (`/account#password`), which first asks a signed-out browser to sign in.",
  responses: {
    302: { description: "To the account page's password section.", headers: { Location: { schema: { type: "string" } } } },
    ...problems([]),
  },
});

wellKnownRoutes.openapi(changePassword, (c) => c.redirect(CHANGE_PASSWORD_PAGE, 302));

const health = createRoute({
  method: "get",
  path: "/health",
  tags,
  summary: "Liveness",
  responses: { 200: jsonResponse(HealthSchema, "The worker is up."), ...problems([]) },
});

wellKnownRoutes.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
