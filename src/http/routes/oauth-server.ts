import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { Hono, type Context } from "hono";
import { enforceIpLimit } from "../../abuse/ip-limits";
import { AppError } from "../../errors";
import { authenticateClient, type ClientCredentials } from "../../oidc/clients";
import { providerEnabled } from "../../oidc/discovery";
import { registerClient } from "../../oidc/registration";
import { introspect, liveAccessToken, OAuthError, redeemCode, refreshGrant, revokeToken, userClaims } from "../../oidc/tokens";
import { findUserById } from "../../db/users";
import type { AppEnv } from "../../web/context";
import { problems } from "../openapi";

/**
 * Gatehouse as an OAuth 2.1 / OpenID Connect provider, the machine side (API.md v1.2): the token,
 * revocation and introspection endpoints (form bodies, RFC 6749 JSON errors) and userinfo. They
 * sit outside `/api/*` (no JSON guard) and answer CORS for any origin without credentials. The
 * authorization and logout endpoints are pages (pages/oauth-provider.tsx).
 */
export const oauthServerRoutes = new Hono<AppEnv>();

const FORM_LIMIT = 16 * 1024;

function oauthError(c: Context<AppEnv>, error: OAuthError) {
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  if (error.status === 401) headers["WWW-Authenticate"] = 'Basic realm="gatehouse"';
  return c.json({ error: error.error, error_description: error.description }, error.status, headers);
}

/** The posted form, as strings; a repeated parameter is an error (RFC 6749 3.1). */
async function formOf(c: Context<AppEnv>): Promise<Record<string, string>> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded")
    throw new OAuthError("invalid_request", "Send the parameters as application/x-www-form-urlencoded.");
  // Bytes, decoded here: workerd warns when a form body is read as text.
  const bytes = await c.req.arrayBuffer();
  if (bytes.byteLength > FORM_LIMIT) throw new OAuthError("invalid_request", "The request is too large.");
  const params = new URLSearchParams(new TextDecoder().decode(bytes));
  const form: Record<string, string> = {};
  for (const [name, value] of params) {
    if (name in form) throw new OAuthError("invalid_request", `${name} is repeated.`);
    form[name] = value;
  }
  return form;
}

/** Client authentication: `client_secret_basic`, `client_secret_post`, or `none` (a public client's id alone). */
async function clientOf(c: Context<AppEnv>, form: Record<string, string>) {
  const header = c.req.header("authorization");
  let credentials: ClientCredentials;
  if (header?.toLowerCase().startsWith("basic ")) {
    let decoded: string;
    try {
      decoded = atob(header.slice(6).trim());
    } catch {
      throw new OAuthError("invalid_client", "Malformed Basic credentials.", 401);
    }
    const at = decoded.indexOf(":");
    if (at < 0 || form.client_secret !== undefined) throw new OAuthError("invalid_client", "Use one client authentication method.", 401);
    credentials = {
      clientId: decodeURIComponent(decoded.slice(0, at)),
      secret: decodeURIComponent(decoded.slice(at + 1)),
      method: "basic",
    };
  } else if (form.client_id) {
    credentials = { clientId: form.client_id, secret: form.client_secret, method: form.client_secret === undefined ? "none" : "post" };
  } else {
    throw new OAuthError("invalid_client", "Client authentication is required.", 401);
  }
  if (form.client_id !== undefined && form.client_id !== credentials.clientId)
    throw new OAuthError("invalid_client", "client_id differs from the authenticated client.", 401);
  const client = await authenticateClient(c.var.deps, credentials);
  if (!client) throw new OAuthError("invalid_client", "Unknown client or wrong credentials.", 401);
  return client;
}

/** Runs an endpoint, answering its OAuth errors in RFC 6749 JSON. */
const endpoint = (run: (c: Context<AppEnv>) => Promise<Response>) => async (c: Context<AppEnv>) => {
  try {
    return await run(c);
  } catch (error) {
    if (error instanceof OAuthError) return oauthError(c, error);
    throw error;
  }
};

oauthServerRoutes.post(
  "/oauth/token",
  endpoint(async (c) => {
    const form = await formOf(c);
    const client = await clientOf(c, form);
    const { deps } = c.var;
    let answer;
    if (form.grant_type === "authorization_code") answer = await redeemCode(deps, client, form);
    else if (form.grant_type === "refresh_token") answer = await refreshGrant(deps, client, form);
    else throw new OAuthError("unsupported_grant_type", "grant_type is authorization_code or refresh_token.");
    return c.json(answer, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
  }),
);

/** RFC 7591 dynamic registration (`OAUTH_DYNAMIC_CLIENT_REGISTRATION=true`): JSON in, RFC 7591 JSON out. */
oauthServerRoutes.post(
  "/oauth/register",
  endpoint(async (c) => {
    const { deps } = c.var;
    if (!deps.config.oauthDynamicRegistration || !providerEnabled(deps.config)) throw new AppError("not_found");
    try {
      await enforceIpLimit(deps, "oauth_register");
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== "rate_limited") throw error;
      const headers = { "Retry-After": String(error.retryAfter ?? 3600), "Cache-Control": "no-store" };
      return c.json(
        { error: "rate_limited", error_description: "Too many registrations from this address: try again later." },
        429,
        headers,
      );
    }
    const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const text = await c.req.text();
    if (type !== "application/json" || text.length > FORM_LIMIT)
      throw new OAuthError("invalid_client_metadata", "Send the client metadata as JSON (at most 16 KiB).");
    let metadata: unknown;
    try {
      metadata = JSON.parse(text);
    } catch {
      throw new OAuthError("invalid_client_metadata", "The body is not JSON.");
    }
    if (!metadata || typeof metadata !== "object" || Array.isArray(metadata))
      throw new OAuthError("invalid_client_metadata", "The body is a JSON object.");
    return c.json(await registerClient(deps, metadata as Record<string, unknown>), 201, { "Cache-Control": "no-store" });
  }),
);

oauthServerRoutes.post(
  "/oauth/revoke",
  endpoint(async (c) => {
    const form = await formOf(c);
    const client = await clientOf(c, form);
    if (!form.token) throw new OAuthError("invalid_request", "token is required.");
    await revokeToken(c.var.deps, client, form.token);
    return c.body(null, 200);
  }),
);

oauthServerRoutes.post(
  "/oauth/introspect",
  endpoint(async (c) => {
    const form = await formOf(c);
    const client = await clientOf(c, form);
    // Introspection is for clients that authenticate (RFC 7662 2.1): a public client's id proves nothing.
    if (client.type === "public") throw new OAuthError("invalid_client", "Introspection needs a confidential client's credentials.", 401);
    if (!form.token) throw new OAuthError("invalid_request", "token is required.");
    return c.json(await introspect(c.var.deps, client, form.token), 200, { "Cache-Control": "no-store" });
  }),
);

/** Userinfo: a live access token (its grant, family and account checked on the primary), claims by scope. */
async function userinfo(c: Context<AppEnv>) {
  const header = c.req.header("authorization");
  const token = header?.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : undefined;
  const claims = token ? await liveAccessToken(c.var.deps, token) : null;
  const user = claims ? await findUserById(c.var.deps.db, claims.sub) : undefined;
  if (!claims || !user || !claims.scope.split(" ").includes("openid")) {
    return c.json({ error: "invalid_token", error_description: "The access token is invalid, expired or revoked." }, 401, {
      "WWW-Authenticate": 'Bearer error="invalid_token"',
      "Cache-Control": "no-store",
    });
  }
  return c.json({ sub: user.id, ...userClaims(user, claims.scope.split(" ")) }, 200, { "Cache-Control": "no-store" });
}

oauthServerRoutes.get("/oauth/userinfo", userinfo);
oauthServerRoutes.post("/oauth/userinfo", userinfo);

/** The endpoints above in the OpenAPI document (they are served by this plain router). */
export function documentOAuthServer(app: OpenAPIHono<AppEnv>): void {
  const tags = ["OpenID provider"];
  const oauthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() }).openapi("OAuthError");
  const json = (description: string, schema: z.ZodType = z.record(z.string(), z.unknown())) => ({
    description,
    content: { "application/json": { schema } },
  });
  const errors = { 400: json("RFC 6749 error.", oauthErrorBody), 401: json("invalid_client.", oauthErrorBody), ...problems([]) };
  const form = { content: { "application/x-www-form-urlencoded": { schema: z.record(z.string(), z.string()) } } };
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/oauth/token",
    tags,
    summary: "Token endpoint (authorization_code with PKCE, refresh_token)",
    description:
      "Client authentication `client_secret_basic`, `client_secret_post` or `none` (public clients). Codes work once and for 60 s; a second redemption revokes what the first issued. Refresh tokens rotate on every use with no grace; a replayed one revokes its family. Errors in RFC 6749 JSON.",
    request: { body: form },
    responses: {
      200: json("Tokens: `access_token` (RFC 9068 JWT), `id_token` with `openid`, `refresh_token` with `offline_access`."),
      ...errors,
    },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/oauth/register",
    tags,
    summary: "Dynamic client registration (RFC 7591), when OAUTH_DYNAMIC_CLIENT_REGISTRATION=true",
    description:
      "Public clients only (`token_endpoint_auth_method: none`), `authorization_code` and `refresh_token` grants only, always consent; `logo_uri`, `client_uri`, `jwks_uri` and the like are neither fetched nor kept. Limited per client IP (`oauth_register_ip_hour`); a client unused for 30 days is removed. Errors in RFC 7591 JSON (`invalid_redirect_uri`, `invalid_client_metadata`); 404 when registration is off.",
    request: { body: { content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
    responses: {
      201: json("The client: `client_id` and what was registered."),
      400: json("RFC 7591 error.", oauthErrorBody),
      429: json("Too many registrations from this address.", oauthErrorBody),
      ...problems(["not_found"]),
    },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/oauth/revoke",
    tags,
    summary: "Revocation (RFC 7009)",
    request: { body: form },
    responses: { 200: { description: "Revoked (or unknown: the same answer)." }, ...errors },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/oauth/introspect",
    tags,
    summary: "Introspection (RFC 7662), for the client's own tokens",
    request: { body: form },
    responses: { 200: json("`{active, …}`."), ...errors },
  });
  for (const method of ["get", "post"] as const) {
    app.openAPIRegistry.registerPath({
      method,
      path: "/oauth/userinfo",
      tags,
      summary: "UserInfo",
      description: "A live access token with `openid`; `email` and `profile` release their claims.",
      responses: { 200: json("Claims."), 401: json("invalid_token.", oauthErrorBody), ...problems([]) },
    });
  }
}
