import type { ERROR_CATALOGUE, ErrorCode } from "../errors.ts";

/**
 * Why a verification failed, for the SDK (`gatehouse/server`, `gatehouse/hono`). The codes are the
 * ones Gatehouse's own API answers with for the same situations (src/errors.ts, types only), so a
 * browser client or a caller that already understands Gatehouse's 401s understands a site API's too;
 * `reason` says which check failed, which Gatehouse's API deliberately does not.
 */
export type VerifyErrorCode = Extract<
  ErrorCode,
  "authentication_required" | "invalid_token" | "token_expired" | "token_revoked" | "service_unavailable"
>;

/** Which check refused the token: stable strings, safe to show (they name a check, never a secret). */
export type VerifyErrorReason =
  /** No credential at all (authentication_required). */
  | "missing"
  /** An Authorization header of another scheme than Bearer (authentication_required). */
  | "not_bearer"
  /** Not a compact JWS, or too large to be one of Gatehouse's tokens. */
  | "malformed"
  /** Signed with an algorithm this verifier does not accept (`none` included). */
  | "algorithm"
  /** Names no key of the issuer's JWKS (even after refetching it once the cooldown allowed). */
  | "unknown_key"
  | "signature"
  /** The `typ` header is not the access tokens' (an ID token or any other JWT of the same key). */
  | "type"
  | "issuer"
  | "audience"
  /** `nbf` or `iat` in the future. */
  | "not_yet_valid"
  /** A claim Gatehouse always sets is missing or of the wrong type. */
  | "claims"
  /** A session token where OAuth tokens are expected, or the other way round (`accept`). */
  | "token_kind"
  | "expired"
  /** Gatehouse's introspection endpoint says the token is no longer active (revoked). */
  | "inactive"
  /** The JWKS could not be fetched or was not a key set: nothing can be verified (fail closed). */
  | "jwks_unavailable"
  /** The introspection endpoint could not be reached or refused this verifier's client (fail closed). */
  | "introspection_unavailable";

const CODE_OF: Record<VerifyErrorReason, VerifyErrorCode> = {
  missing: "authentication_required",
  not_bearer: "authentication_required",
  malformed: "invalid_token",
  algorithm: "invalid_token",
  unknown_key: "invalid_token",
  signature: "invalid_token",
  type: "invalid_token",
  issuer: "invalid_token",
  audience: "invalid_token",
  not_yet_valid: "invalid_token",
  claims: "invalid_token",
  token_kind: "invalid_token",
  expired: "token_expired",
  inactive: "token_revoked",
  jwks_unavailable: "service_unavailable",
  introspection_unavailable: "service_unavailable",
};

/**
 * What the catalogue says of each code. The SDK may not import the worker's code, so STATUS_OF and
 * TITLE_OF copy it; typed from it, a change there fails this file's build instead of drifting.
 */
type Catalogued<F extends "status" | "title"> = { [C in VerifyErrorCode]: (typeof ERROR_CATALOGUE)[C][F] };

/** The HTTP status each code answers with, as Gatehouse's catalogue gives it. */
const STATUS_OF: Catalogued<"status"> = {
  authentication_required: 401,
  invalid_token: 401,
  token_expired: 401,
  token_revoked: 401,
  service_unavailable: 503,
};

/** A problem title per code, Gatehouse's (src/errors.ts). */
export const TITLE_OF: Catalogued<"title"> = {
  authentication_required: "Authentication required",
  invalid_token: "Invalid token",
  token_expired: "Token expired",
  token_revoked: "Token revoked",
  service_unavailable: "Service unavailable",
};

const DETAIL_OF: Record<VerifyErrorReason, string> = {
  missing: "Send a Gatehouse access token: Authorization: Bearer <token>.",
  not_bearer: "The Authorization header does not use the Bearer scheme: send Authorization: Bearer <token>.",
  malformed: "The credential is not a JSON Web Token.",
  algorithm: "The token is signed with an algorithm this API does not accept.",
  unknown_key: "The token names a signing key the issuer does not publish.",
  signature: "The token's signature does not verify with the issuer's key.",
  type: "The token is not an access token (its typ header is not the expected one).",
  issuer: "The token was issued by another issuer than the one this API trusts.",
  audience: "The token is meant for another audience than this API.",
  not_yet_valid: "The token is not valid yet.",
  claims: "The token lacks claims every Gatehouse access token carries.",
  token_kind: "This API does not accept this kind of Gatehouse token.",
  expired: "The token has expired.",
  inactive: "The token has been revoked.",
  jwks_unavailable: "The issuer's signing keys could not be fetched. Try again shortly.",
  introspection_unavailable: "The token could not be checked with the issuer. Try again shortly.",
};

/**
 * A verification that failed. `code` is stable (Gatehouse's catalogue), `reason` names the check,
 * `status` is the HTTP status to answer with and `detail` is a sentence safe to send to the caller
 * (it may name this API's expected issuer or audience, which are public, never a key or secret).
 * `cause` keeps the underlying error for logs.
 */
export class VerifyError extends Error {
  override name = "VerifyError";
  readonly code: VerifyErrorCode;
  readonly reason: VerifyErrorReason;
  readonly status: 401 | 503;
  readonly detail: string;

  constructor(reason: VerifyErrorReason, options: { detail?: string; cause?: unknown } = {}) {
    const detail = options.detail ?? DETAIL_OF[reason];
    super(detail, { cause: options.cause });
    this.reason = reason;
    this.code = CODE_OF[reason];
    this.status = STATUS_OF[this.code];
    this.detail = detail;
  }
}
