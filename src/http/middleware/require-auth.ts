import { createMiddleware } from "hono/factory";
import type { AppEnv, Principal, SessionEnv } from "../../web/context";
import { findUserWithSession } from "../../db/sessions";
import { AppError } from "../../errors";
import { verifyAccessToken } from "../../sessions/access-tokens";
import { sessionAmr } from "../../sessions/sessions";
import { authenticateApiKey, looksLikeApiKey } from "../../api-keys/api-keys";
import type { Deps } from "../../kernel/deps";

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
 * Authenticates `Authorization: Bearer <access token>`: signature and claims offline, then the user
 * and session rows (one read, near the user: see db/replica-reads.ts), so a deleted or deactivated
 * user, a revoked or expired session, or a session older than the user's credentials epoch
 * (password change or reset, email revert, logout-all) is refused. A refusal is always the primary's
 * answer; an acceptance may be up to the replica lag plus a second old.
 */
async function authenticateAccessToken(deps: Deps, token: string): Promise<Principal> {
  const now = deps.now();
  let claims;
  try {
    claims = await verifyAccessToken(await deps.keys(), deps.config, token, now);
  } catch (error) {
    throw asUnauthorized(error);
  }
  const { sub, sid } = claims;
  const found = await deps.replicas.read(
    `session:${sub}:${sid}`,
    sub,
    (db) => findUserWithSession(db, sub, sid),
    (row) => sessionRefusal(row, now) === null,
  );
  const refusal = sessionRefusal(found, now);
  if (refusal !== null || !found?.session) throw unauthorized(refusal ?? "invalid_token");
  const { user, session } = found;
  return {
    kind: "access_token",
    user,
    sessionId: session.id,
    // The token's own: a step-up's token is fresh, an older token of the same session is not.
    authTime: claims.auth_time > 0 ? new Date(claims.auth_time * 1000) : (session.authTime ?? session.createdAt),
    amr: claims.amr.length > 0 ? claims.amr : sessionAmr(session),
    fresh: claims.fresh,
    token: { jti: claims.jti, exp: claims.exp },
  };
}

/** Why an access token's user and session refuse it, or null when they let it through. */
function sessionRefusal(
  found: Awaited<ReturnType<typeof findUserWithSession>>,
  now: Date,
): "invalid_token" | "token_revoked" | "token_expired" | null {
  const session = found?.session;
  if (!found || !found.user.isActive) return "invalid_token";
  if (!session || session.revokedAt !== null || session.credentialsEpoch < found.user.credentialsEpoch) return "token_revoked";
  if (session.expiresAt.getTime() <= now.getTime()) return "token_expired";
  return null;
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
