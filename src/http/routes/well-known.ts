import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { SHIPPED_LOCALES } from "../../config/languages";
import type { AppEnv } from "../../web/context";
import { jsonResponse, problems } from "../openapi";
import { HealthSchema, JwksSchema, OpenIdConfigurationSchema } from "../../web/schemas";

/** Public, unauthenticated endpoints: the JWKS, the discovery document and the health check. */
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

const openidConfiguration = createRoute({
  method: "get",
  path: "/.well-known/openid-configuration",
  tags,
  summary: "Issuer discovery",
  description:
    "The issuer and where its keys are, so libraries that configure JWT checks from an issuer URL work. Gatehouse is not an OpenID provider; the document states only what is true.",
  responses: { 200: jsonResponse(OpenIdConfigurationSchema, "Discovery metadata."), ...problems([]) },
});

wellKnownRoutes.openapi(openidConfiguration, (c) => {
  const { issuer, publicUrl } = c.var.deps.config;
  return c.json({ issuer, jwks_uri: `${publicUrl}/.well-known/jwks.json`, ui_locales_supported: [...SHIPPED_LOCALES] }, 200, {
    "Cache-Control": JWKS_CACHE,
  });
});

const health = createRoute({
  method: "get",
  path: "/health",
  tags,
  summary: "Liveness",
  responses: { 200: jsonResponse(HealthSchema, "The worker is up."), ...problems([]) },
});

wellKnownRoutes.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
