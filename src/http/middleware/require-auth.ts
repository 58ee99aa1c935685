import { createMiddleware } from "hono/factory";
import type { AppEnv, Principal, SessionEnv } from "../context";
import { findUserWithSession } from "../../db/sessions";
import { AppError } from "../../errors";
import { verifyAccessToken } from "../../sessions/access-tokens";
import { authenticateApiKey, looksLikeApiKey } from "../../api-keys/api-keys";
import type { Deps } from "../../deps";
import { assertNotRevoked } from "../../sessions/revocation";

/** RFC 6750 challenge sent with every 401 from this middleware. */
const CHALLENGE = { "WWW-Authenticate": 'Bearer error="invalid_token"' };

function unauthorized(code: "invalid_token" | "token_expired" | "token_revoked" = "invalid_token"): AppError {
  return new AppError(code, { headers: CHALLENGE });
}

/** A credential check's AppError becomes the 401 with the challenge; anything else (503, 500) passes through. */
function asUnauthorized(error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  return error.code === "token_expired" || error.code === "token_revoked" ? unauthorized(error.code) : unauthorized();
}

/** The bearer credential, from the Authorization header only (never the query string). */
function bearer(header: string | undefined): string | null {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

/**
 * Authenticates `Authorization: Bearer <access token>`: signature and claims, the KV blacklist
 * (one bulk read), then the user and session rows (one D1 query), so a deleted or deactivated
 * user, or a revoked or expired session, fails at once even before KV has propagated.
 */
async function authenticateAccessToken(deps: Deps, token: string): Promise<Principal> {
  const now = deps.now();
  let claims;
  try {
    claims = await verifyAccessToken(await deps.keys(), deps.config, token, now);
    await assertNotRevoked(deps, claims);
  } catch (error) {
    throw asUnauthorized(error);
  }
  const found = await findUserWithSession(deps.db, claims.sub, claims.sid);
  const session = found?.session;
  if (!found || !found.user.isActive) throw unauthorized();
  // A session from before the user's credentials epoch (password change or reset, email revert,
  // logout-all) is dead even where KV has not caught up.
  if (!session || session.revokedAt !== null || session.credentialsEpoch < found.user.credentialsEpoch) throw unauthorized("token_revoked");
  if (session.expiresAt.getTime() <= now.getTime()) throw unauthorized("token_expired");
  return {
    kind: "access_token",
    user: found.user,
    sessionId: session.id,
    authTime: session.authTime ?? session.createdAt,
    token: { jti: claims.jti, exp: claims.exp },
  };
}

/**
 * Authenticates `Authorization: Bearer <api key>` (see api-keys/api-keys.ts): one indexed read of
 * the key and its owner, whose state is checked on every request.
 */
async function authenticateWithApiKey(deps: Deps, token: string): Promise<Principal> {
  try {
    const { key, user } = await authenticateApiKey(deps, token);
    return { kind: "api_key", user, apiKey: { id: key.id, scopes: key.scopes } };
  } catch (error) {
    throw asUnauthorized(error);
  }
}

/**
 * Requires a valid credential and puts the caller in `c.var.principal`. A bearer that starts with
 * the configured API key prefix is an API key; anything else must be an access token.
 */
export function requireAuth() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearer(c.req.header("authorization"));
    if (!token) {
      // RFC 6750 §3.1: a request with no credential at all gets the bare challenge, no error code.
      if (!c.req.header("authorization")?.trim()) {
        throw new AppError("authentication_required", { headers: { "WWW-Authenticate": "Bearer" } });
      }
      throw unauthorized();
    }
    const { deps } = c.var;
    const principal = looksLikeApiKey(deps, token) ? await authenticateWithApiKey(deps, token) : await authenticateAccessToken(deps, token);
    c.set("principal", principal);
    await next();
  });
}

/**
 * Puts the caller in `c.var.principal` when the request carries a valid credential, and passes
 * without one otherwise (a bad credential counts as none): for endpoints where being signed in is
 * one way among others to prove something, like confirming a registration.
 */
export function optionalAuth() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearer(c.req.header("authorization"));
    if (token) {
      const { deps } = c.var;
      try {
        c.set(
          "principal",
          looksLikeApiKey(deps, token) ? await authenticateWithApiKey(deps, token) : await authenticateAccessToken(deps, token),
        );
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
      }
    }
    await next();
  });
}

/**
 * For credential management (password, email, sessions, API keys, account deletion): an API key
 * authenticates but may not do these, whatever its scopes.
 */
export function requireInteractiveSession() {
  return createMiddleware<AppEnv & SessionEnv>(async (c, next) => {
    const { principal } = c.var;
    if (principal.kind !== "access_token") {
      throw new AppError("insufficient_scope", { detail: "API keys cannot manage credentials; use an access token." });
    }
    c.set("session", principal);
    await next();
  });
}
