import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv, CallerEnv, Principal, SessionEnv } from "../../web/context";
import { openEnrolment } from "../../accounts/sign-in";
import type { Session, User } from "../../db/schema";
import { findUserWithSession } from "../../db/sessions";
import { AppError } from "../../errors";
import { verifyAccessToken, type AccessTokenClaims } from "../../sessions/access-tokens";
import { accessRefusal, sessionAmr, type AccessRefusal } from "../../sessions/sessions";
import { authenticateApiKey, looksLikeApiKey } from "../../api-keys/api-keys";
import type { Deps } from "../../kernel/deps";

/** RFC 6750 challenge sent with every 401 from this middleware. */
const CHALLENGE = { "WWW-Authenticate": 'Bearer error="invalid_token"' };

export function unauthorized(code: AccessRefusal = "invalid_token"): AppError {
  return new AppError(code, { headers: CHALLENGE });
}

/** A credential check's AppError becomes the 401 with the challenge; anything else (503, 500) passes through. */
function asUnauthorized(error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  return error.code === "token_expired" || error.code === "token_revoked" ? unauthorized(error.code) : unauthorized();
}

/**
 * The endpoints an enrolment `mfa_token` may call, as `Authorization: MFA <mfa_token>` (API.md "MFA
 * policy"); anywhere else that scheme is 401. Listed here, where credentials are read, so no other
 * route can ever see such a caller.
 */
const ENROLMENT_ENDPOINTS: ReadonlySet<string> = new Set([
  "POST /api/v1/users/me/mfa/totp",
  "POST /api/v1/users/me/mfa/totp/confirm",
  "POST /api/v1/users/me/passkeys/options",
  "POST /api/v1/users/me/passkeys",
]);

/** The enrolment token of `Authorization: MFA <mfa_token>`, or null. */
function enrolmentToken(header: string | undefined): string | null {
  const match = /^MFA[ ]+([^\s]+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
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
  const claims = await verifyOffline(deps, token);
  const { sub, sid } = claims;
  const found = await deps.replicas.read(
    `session:${sub}:${sid}`,
    sub,
    (db) => findUserWithSession(db, sub, sid),
    (row) => accessRefusal(row, now) === null,
  );
  const refusal = accessRefusal(found, now);
  if (refusal !== null || !found?.session) throw unauthorized(refusal ?? "invalid_token");
  return sessionPrincipal(claims, found.user, found.session);
}

/** Signature and claims of an access token, checked against local keys only; a failure is the 401. */
async function verifyOffline(deps: Deps, token: string): Promise<AccessTokenClaims> {
  try {
    return await verifyAccessToken(await deps.keys(), deps.config, token, deps.now());
  } catch (error) {
    throw asUnauthorized(error);
  }
}

/** The caller an access token and its user and session (which accept it) make. */
export function sessionPrincipal(claims: AccessTokenClaims, user: User, session: Session): Principal {
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
    const enrolment = enrolmentToken(c.req.header("authorization"));
    if (enrolment) {
      if (!ENROLMENT_ENDPOINTS.has(`${c.req.method} ${c.req.path}`)) {
        throw new AppError("invalid_token", { headers: CHALLENGE, detail: "An enrolment token only enrols a second factor." });
      }
      // No principal: only `sessionOrEnrolment()` (the four routes) reads this caller.
      c.set(
        "enrolment",
        await openEnrolment(c.var.deps, enrolment, "api").catch((error: unknown) => {
          throw error instanceof AppError ? new AppError("invalid_token", { headers: CHALLENGE, detail: error.detail }) : error;
        }),
      );
      return next();
    }
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
    // Undefined only for an enrolment token's request, which reaches the four enrolment routes alone.
    const principal = c.var.principal as Principal | undefined;
    if (!principal) throw unauthorized();
    if (principal.kind !== "access_token") {
      throw new AppError("insufficient_scope", { detail: "API keys cannot manage credentials; use an access token." });
    }
    c.set("session", principal);
    await next();
  });
}

/**
 * For the four enrolment endpoints: the caller is an access token's session (as
 * {@link requireInteractiveSession}) or an enrolment token's account (`c.var.caller` either way).
 */
export function sessionOrEnrolment() {
  return createMiddleware<AppEnv & CallerEnv>(async (c, next) => {
    const { enrolment } = c.var;
    const principal = c.var.principal as Principal | undefined;
    if (enrolment) {
      c.set("caller", enrolment);
      return next();
    }
    if (!principal) throw unauthorized();
    if (principal.kind !== "access_token") {
      throw new AppError("insufficient_scope", { detail: "API keys cannot manage credentials; use an access token." });
    }
    c.set("caller", principal);
    await next();
  });
}

/** What {@link sessionTokenOffline} adds: an access token verified offline, its session not yet read. */
export interface UncheckedSessionEnv {
  Variables: { unchecked?: AccessTokenClaims; session?: SessionEnv["Variables"]["session"] };
}

/**
 * For a route whose one write checks the caller's session itself (a logout: db/sessions.ts
 * `addLogout`), so that no read has to come first: when `offline(c)` holds and the bearer is an access
 * token, its signature and claims are verified here (offline, the same 401s as {@link requireAuth})
 * and the claims put in `c.var.unchecked`; the route must refuse the request, as
 * {@link requireAuth} would, when its write finds the session does not accept the token. Anything
 * else (no credential, an enrolment token, an API key, or `offline(c)` false) goes through
 * {@link requireAuth} and {@link requireInteractiveSession}, with their answers, and `c.var.session`.
 */
export function sessionTokenOffline(offline: (c: Context<AppEnv>) => boolean) {
  const authenticate = requireAuth();
  const interactive = requireInteractiveSession();
  return createMiddleware<AppEnv & UncheckedSessionEnv>(async (c, next) => {
    const token = enrolmentToken(c.req.header("authorization")) ? null : bearer(c.req.header("authorization"));
    if (token === null || looksLikeApiKey(c.var.deps, token) || !offline(c)) {
      await authenticate(c, async () => {
        await interactive(c as unknown as Context<AppEnv & SessionEnv, string>, next);
      });
      return;
    }
    c.set("unchecked", await verifyOffline(c.var.deps, token));
    await next();
  });
}
