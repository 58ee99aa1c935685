import { createRemoteJWKSet, customFetch, errors, jwtVerify, type FlattenedJWSInput, type JWTHeaderParameters } from "jose";
import type { Config } from "../config/index.ts";
import { claimsFor, type ClaimsOf, type TokenKind } from "./claims.ts";
import { VerifyError } from "./errors.ts";
import { introspect, type IntrospectionOptions, type ResolvedIntrospection } from "./introspection.ts";

/**
 * `gatehouse/server`: verify Gatehouse access tokens in any runtime with WebCrypto and fetch (Node
 * 20+, Workers, Deno, Bun). Offline by default: the signature against the issuer's published JWKS
 * (cached), and `typ`, `iss`, `aud`, the algorithm and the times pinned; optionally online through
 * Gatehouse's introspection endpoint, which sees a revocation at once.
 *
 * Imports in src/sdk name their `.ts` files: Node runs this module as it is (type stripping), and
 * Node resolves only what is written. Nothing of the worker runs here: its types only.
 */

export { VerifyError, type VerifyErrorCode, type VerifyErrorReason } from "./errors.ts";
export { isOAuthClaims, type ClaimsOf, type OAuthClaims, type SessionClaims, type TokenKind } from "./claims.ts";
export type { IntrospectionOptions } from "./introspection.ts";
export { insufficientScope, problemFor, PROBLEM_CONTENT_TYPE, type AuthProblem, type ProblemResponse } from "./problem.ts";

/** The algorithms Gatehouse can sign with (its `JWT_ALG`). */
export type SigningAlgorithm = Config["jwtAlg"];

/** A fetch the verifier sends its requests through, e.g. a service binding's: `(url, init) => env.GATEHOUSE.fetch(url, init)`. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** How to verify. `issuer` and `audience` are compared exactly (no trailing-slash or case folding). */
export interface VerifierOptions<K extends TokenKind = "session"> {
  /** Gatehouse's `JWT_ISSUER` (for OAuth clients' tokens: its `PUBLIC_URL`, which then equals it). */
  issuer: string;
  /** Gatehouse's `JWT_AUDIENCE` for session tokens; for OAuth tokens, the `resource` your clients ask for (or the client id). */
  audience: string;
  /**
   * Which tokens to accept (both kinds carry `typ: at+jwt`): `"session"` (default) Gatehouse's own
   * sign-ins, `"oauth"` tokens Gatehouse issued to OAuth clients, `"any"` both (check with `isOAuthClaims`).
   */
  accept?: K;
  /** Default `${issuer}/.well-known/jwks.json`, where Gatehouse publishes its keys. */
  jwksUrl?: string;
  /** Every request (JWKS, introspection) goes through it. Default: the global fetch. */
  fetch?: FetchLike;
  /** The `typ` header required. Default `at+jwt` (RFC 9068), which both kinds carry and ID tokens never do. */
  typ?: string;
  /** Accepted algorithms: Gatehouse's `JWT_ALG`. Default `["ES256"]`, Gatehouse's default. */
  algorithms?: SigningAlgorithm[];
  /** Seconds of clock skew allowed on `exp` and `nbf`. Default 0. */
  clockTolerance?: number;
  /** The clock the times are checked against. Default: now. */
  now?: () => Date;
  /**
   * The key cache (jose's remote JWKS semantics). Keys are kept `maxAgeMs` (default 300,000: the
   * JWKS's `max-age`); a token naming an unknown key refetches at once, but at most once per
   * `cooldownMs` (default 30,000), so made-up `kid`s cannot become a stream of fetches; a fetch gives
   * up after `timeoutMs` (default 5,000).
   */
  jwks?: { maxAgeMs?: number; cooldownMs?: number; timeoutMs?: number };
  /**
   * Also ask Gatehouse (`POST /oauth/introspect`) about every token that passed offline, so a
   * revoked one is refused at once. Covers OAuth clients' tokens issued to `clientId` only:
   * Gatehouse's introspection answers for nothing else (session tokens, other clients' tokens).
   */
  introspection?: IntrospectionOptions;
}

/** What `verify` takes: a compact JWT, an `Authorization` header's value (`Bearer …`), or a request carrying one. */
export type TokenInput = string | { headers: { get(name: string): string | null } } | null | undefined;

/** Resolves to the token's typed claims, or rejects with a {@link VerifyError}. */
export type Verifier<K extends TokenKind = "session"> = (input: TokenInput) => Promise<ClaimsOf<K>>;

/** Larger than any token Gatehouse signs (about 700 bytes), small enough to refuse before parsing. */
const MAX_TOKEN_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The token of an input: the header's Bearer credential, or the string itself when it has no scheme. */
function tokenFrom(input: TokenInput): string {
  const value = (typeof input === "object" && input !== null ? input.headers.get("authorization") : input)?.trim();
  if (!value || /^bearer$/i.test(value)) throw new VerifyError("missing");
  const scheme = /^(\S+)\s+(\S+)$/.exec(value);
  if (scheme && scheme[1]!.toLowerCase() !== "bearer") throw new VerifyError("not_bearer");
  const token = scheme ? scheme[2]! : value;
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw new VerifyError("malformed");
  return token;
}

/** A jose failure as the check it names; `VerifyError`s of the key resolver pass through. */
function refusal(error: unknown, expected: { issuer: string; audience: string }): VerifyError {
  if (error instanceof VerifyError) return error;
  if (error instanceof errors.JWTExpired) return new VerifyError("expired", { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss")
      return new VerifyError("issuer", {
        cause: error,
        detail: `The token was not issued by ${expected.issuer}, the issuer this API trusts.`,
      });
    if (error.claim === "aud")
      return new VerifyError("audience", { cause: error, detail: `The token is not meant for ${expected.audience}, this API's audience.` });
    if (error.claim === "typ") return new VerifyError("type", { cause: error });
    if (error.claim === "nbf" || error.claim === "iat")
      return new VerifyError(error.reason === "missing" ? "claims" : "not_yet_valid", { cause: error });
    return new VerifyError("claims", { cause: error, detail: `The token's ${error.claim} claim is missing or not valid.` });
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported)
    return new VerifyError("algorithm", { cause: error });
  if (error instanceof errors.JWSSignatureVerificationFailed) return new VerifyError("signature", { cause: error });
  return new VerifyError("malformed", { cause: error });
}

const trimSlash = (url: string) => url.replace(/\/+$/, "");

/**
 * Makes a verifier. Create it once (per process or isolate) and reuse it: its key cache lives in it.
 * Invalid options throw a TypeError at once, not at the first request.
 *
 * @example
 * const verify = createVerifier({ issuer: "https://auth.example.com", audience: "gatehouse" });
 * const claims = await verify(request.headers.get("authorization")); // claims.sub is the user id
 */
export function createVerifier<K extends TokenKind = "session">(options: VerifierOptions<K>): Verifier<K> {
  const { issuer, audience } = options;
  if (typeof issuer !== "string" || issuer === "") throw new TypeError("gatehouse/server: `issuer` is required (Gatehouse's JWT_ISSUER).");
  if (typeof audience !== "string" || audience === "")
    throw new TypeError("gatehouse/server: `audience` is required (Gatehouse's JWT_AUDIENCE).");
  const accept = (options.accept ?? "session") as K;
  if (!["session", "oauth", "any"].includes(accept)) throw new TypeError('gatehouse/server: `accept` is "session", "oauth" or "any".');
  const algorithms = options.algorithms ?? ["ES256"];
  if (algorithms.length === 0) throw new TypeError("gatehouse/server: `algorithms` lists at least one algorithm.");
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? (() => new Date());

  const jwksUrl = options.jwksUrl ?? `${trimSlash(issuer)}/.well-known/jwks.json`;
  if (!URL.canParse(jwksUrl)) throw new TypeError(`gatehouse/server: the JWKS URL ${jwksUrl} is not a URL (set \`jwksUrl\`).`);

  const online = resolveIntrospection(options.introspection, issuer, accept);
  const jwks = createRemoteJWKSet(new URL(jwksUrl), {
    cacheMaxAge: options.jwks?.maxAgeMs ?? 300_000,
    cooldownDuration: options.jwks?.cooldownMs ?? 30_000,
    timeoutDuration: options.jwks?.timeoutMs ?? 5_000,
    [customFetch]: fetchImpl,
  });
  const key = async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    // Gatehouse always names its key; without a kid, "whichever key fits" is not a choice to make.
    if (typeof header.kid !== "string") throw new VerifyError("unknown_key", { detail: "The token names no signing key (kid)." });
    try {
      return await jwks(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
        throw new VerifyError("unknown_key", { cause: error });
      throw new VerifyError("jwks_unavailable", { cause: error });
    }
  };

  return async (input) => {
    const token = tokenFrom(input);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        issuer,
        audience,
        typ: options.typ ?? "at+jwt",
        algorithms,
        clockTolerance: options.clockTolerance ?? 0,
        currentDate: now(),
        requiredClaims: ["sub", "jti", "iat", "exp"],
      }));
    } catch (error) {
      throw refusal(error, { issuer, audience });
    }
    const claims = claimsFor(payload, accept);
    if (online && typeof payload.client_id === "string") await introspect(online, token, fetchImpl);
    return claims;
  };
}

/** The introspection options with defaults, or a TypeError for a combination that cannot work. */
function resolveIntrospection(
  options: IntrospectionOptions | undefined,
  issuer: string,
  accept: TokenKind,
): ResolvedIntrospection | undefined {
  if (!options) return undefined;
  if (!options.clientId || !options.clientSecret)
    throw new TypeError("gatehouse/server: `introspection` needs the confidential client's `clientId` and `clientSecret`.");
  if (accept === "session")
    throw new TypeError(
      'gatehouse/server: Gatehouse\'s introspection answers only for tokens issued to OAuth clients: use it with accept "oauth" or "any".',
    );
  return {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    url: options.url ?? `${trimSlash(issuer)}/oauth/introspect`,
    authMethod: options.authMethod ?? "client_secret_basic",
    timeoutMs: options.timeoutMs ?? 5_000,
  };
}
