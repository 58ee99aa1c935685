import type { JWTPayload } from "jose";
import type { OAuthAccessClaims } from "../oidc/tokens.ts";
import type { AccessTokenClaims } from "../sessions/access-tokens.ts";
import { VerifyError } from "./errors.ts";

/**
 * The claims of the two kinds of access token Gatehouse signs, typed from the worker's own
 * declarations (types only: nothing of the worker runs here), so a claim the worker adds or renames
 * breaks this file's build instead of drifting. Both kinds carry `typ: at+jwt` (RFC 9068) and the
 * same issuer; they differ in audience and claims.
 */

/**
 * A first-party access token: Gatehouse's own sign-ins (`POST /api/v1/auth/login`, the hosted pages,
 * cookie mode's `__Secure-gh_at`). `aud` is Gatehouse's `JWT_AUDIENCE`; `sid` is the session.
 * `fresh`, `roles` and `amr` are normalised as the worker reads them (absent means false or empty).
 */
export type SessionClaims = AccessTokenClaims & {
  iss: string;
  aud: string | string[];
  client_id?: never;
};

/**
 * An access token Gatehouse issued to an OAuth client (Gatehouse as an OpenID provider):
 * `client_id`, `scope` (space-separated) and `aud` = the `resource` asked for or the client's id,
 * never Gatehouse's own audience. `sid` is the token family, `gid` the grant.
 */
export type OAuthClaims = OAuthAccessClaims & {
  jti: string;
  auth_time: number;
  amr: string[];
};

/** Which tokens a verifier accepts: Gatehouse session tokens (the default), OAuth clients' tokens, or both. */
export type TokenKind = "session" | "oauth" | "any";

/** The claims a verifier of `kind` resolves to. */
export type ClaimsOf<K extends TokenKind> = K extends "session"
  ? SessionClaims
  : K extends "oauth"
    ? OAuthClaims
    : SessionClaims | OAuthClaims;

/** True for an OAuth client's token (it carries `client_id`), false for a Gatehouse session's. */
export function isOAuthClaims(claims: SessionClaims | OAuthClaims): claims is OAuthClaims {
  return typeof claims.client_id === "string";
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

function need<T>(value: T | undefined, ok: (v: unknown) => boolean, claim: string): T {
  if (!ok(value)) throw new VerifyError("claims", { detail: `The token's ${claim} claim is missing or not valid.` });
  return value as T;
}
const isString = (v: unknown) => typeof v === "string" && v.length > 0;
const isTime = (v: unknown) => typeof v === "number" && Number.isFinite(v);

/** What both kinds carry, read as the worker reads them. */
function commonClaims(payload: JWTPayload) {
  return {
    iss: need(payload.iss, isString, "iss"),
    aud: need(payload.aud, (v) => v !== undefined, "aud"),
    sub: need(payload.sub, isString, "sub"),
    sid: need(payload.sid as string | undefined, isString, "sid"),
    jti: need(payload.jti, isString, "jti"),
    iat: need(payload.iat, isTime, "iat"),
    exp: need(payload.exp, isTime, "exp"),
    // Tokens signed before auth_time existed lack it: 0, as the worker reads them.
    auth_time: isTime(payload.auth_time) ? (payload.auth_time as number) : 0,
    amr: strings(payload.amr),
  };
}

/** A verified session token's payload as the worker reads it (src/sessions/access-tokens.ts `verifyAccessToken`). */
function sessionClaims(payload: JWTPayload): SessionClaims {
  return { ...commonClaims(payload), roles: strings(payload.roles), fresh: payload.fresh === true };
}

/** A verified OAuth access token's payload (src/oidc/tokens.ts signs it). */
function oauthClaims(payload: JWTPayload): OAuthClaims {
  return {
    ...commonClaims(payload),
    client_id: need(payload.client_id as string | undefined, isString, "client_id"),
    scope: need(payload.scope as string | undefined, (v) => typeof v === "string", "scope"),
    gid: need(payload.gid as string | undefined, isString, "gid"),
    ep: need(payload.ep as number | undefined, isTime, "ep"),
  };
}

/**
 * The typed claims of a payload whose signature, issuer, audience, `typ` and times were checked;
 * refuses the kind `accept` excludes (`token_kind`) and a token lacking what Gatehouse always signs.
 */
export function claimsFor<K extends TokenKind>(payload: JWTPayload, accept: K): ClaimsOf<K> {
  const oauth = payload.client_id !== undefined;
  if ((accept === "session" && oauth) || (accept === "oauth" && !oauth)) {
    throw new VerifyError("token_kind", {
      detail: oauth
        ? "This API accepts Gatehouse session tokens, not tokens issued to OAuth clients."
        : "This API accepts tokens issued to OAuth clients, not Gatehouse session tokens.",
    });
  }
  return (oauth ? oauthClaims(payload) : sessionClaims(payload)) as ClaimsOf<K>;
}
