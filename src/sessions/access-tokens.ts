import { errors as joseErrors, jwtVerify, SignJWT, type JWTHeaderParameters } from "jose";
import type { Config } from "../config";
import { AppError } from "../errors";
import type { KeySet } from "../kernel/signing-keys";

/** The access token's type header (RFC 9068); refresh tokens and ID tokens never carry it. */
const ACCESS_TOKEN_TYPE = "at+jwt";

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  /** When the user last authenticated in this session (seconds; RFC 9068): sign-in or step-up, kept across refreshes. */
  auth_time: number;
  /** How (RFC 8176: `pwd`, `otp`, `mfa`…), kept across refreshes. */
  amr: string[];
  /** The user's roles when the token was signed (administrators set them; a change shows at the next refresh). */
  roles: string[];
  /**
   * Whether a sign-in issued this token (the private claim `fresh: true`); a token a refresh issued
   * never is, so a stolen refresh token cannot pass for a fresh sign-in.
   */
  fresh: boolean;
}

export interface IssuedAccessToken {
  token: string;
  claims: AccessTokenClaims;
}

/** Signs a short-lived access token for one user and session. */
export async function signAccessToken(
  keys: KeySet,
  config: Config,
  subject: { userId: string; sessionId: string; authTime: Date; amr: string[]; roles?: string[]; fresh?: boolean },
  now: Date,
): Promise<IssuedAccessToken> {
  const iat = Math.floor(now.getTime() / 1000);
  const claims: AccessTokenClaims = {
    sub: subject.userId,
    sid: subject.sessionId,
    jti: crypto.randomUUID(),
    iat,
    exp: iat + config.accessTokenTtl,
    auth_time: Math.floor(subject.authTime.getTime() / 1000),
    amr: subject.amr,
    roles: subject.roles ?? [],
    fresh: subject.fresh === true,
  };
  const token = await new SignJWT({
    sid: claims.sid,
    auth_time: claims.auth_time,
    amr: claims.amr,
    roles: claims.roles,
    ...(claims.fresh ? { fresh: true } : {}),
  })
    .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setSubject(claims.sub)
    .setJti(claims.jti)
    .setIssuedAt(iat)
    .setExpirationTime(claims.exp)
    .sign(keys.signing.key);
  return { token, claims };
}

/**
 * Tokens this isolate has verified, by the token's own text. A client sends the same access token
 * for its whole life (15 minutes by default), and checking its signature each time was the largest
 * share of a token check's CPU. An entry counts only for the key set and configuration that verified
 * it (a reloaded key set is a new object, so a removed key stops verifying at once), and its expiry
 * is checked on every use. Bounded; the oldest entry goes first, and expired ones at the front are
 * dropped as new ones come. Only successes are kept.
 */
const verified = new Map<string, { keys: KeySet; config: Config; claims: AccessTokenClaims }>();
const MAX_VERIFIED = 5_000;

/**
 * Verifies signature, algorithm, issuer, audience, `typ` and expiry against local keys only.
 * Every failure is a 401: `token_expired` for an expired but otherwise valid token, else
 * `invalid_token` (no detail on which check failed).
 */
export async function verifyAccessToken(keys: KeySet, config: Config, token: string, now: Date): Promise<AccessTokenClaims> {
  const known = verified.get(token);
  if (known && known.keys === keys && known.config === config) {
    // jose's rule, to the second: expired once `exp` is not after now.
    if (known.claims.exp <= Math.floor(now.getTime() / 1000)) throw new AppError("token_expired");
    return known.claims;
  }
  // Frozen: every later request with this token shares the object.
  const claims = Object.freeze(await verifySignedToken(keys, config, token, now));
  Object.freeze(claims.amr);
  Object.freeze(claims.roles);
  verified.delete(token);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  for (const [key, entry] of verified) {
    if (entry.claims.exp > nowSeconds) break;
    verified.delete(key);
  }
  verified.set(token, { keys, config, claims });
  if (verified.size > MAX_VERIFIED) verified.delete(verified.keys().next().value!);
  return claims;
}

async function verifySignedToken(keys: KeySet, config: Config, token: string, now: Date): Promise<AccessTokenClaims> {
  const algorithms = [...new Set([...keys.byKid.values()].map((k) => k.alg))];
  try {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters) => {
        const key = header.kid ? keys.byKid.get(header.kid) : undefined;
        if (!key || key.alg !== header.alg) throw new AppError("invalid_token");
        return key.key;
      },
      {
        algorithms,
        issuer: config.issuer,
        audience: config.audience,
        typ: ACCESS_TOKEN_TYPE,
        currentDate: now,
        requiredClaims: ["sub", "sid", "jti", "iat", "exp"],
      },
    );
    const { sub, sid, jti, iat, exp, auth_time, amr, roles, fresh } = payload as Partial<Record<keyof AccessTokenClaims, unknown>>;
    if (typeof sub !== "string" || typeof sid !== "string" || typeof jti !== "string") throw new AppError("invalid_token");
    // Tokens signed before auth_time existed lack it; the session row is what freshness checks read.
    const roleList = Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [];
    const methods = Array.isArray(amr) ? amr.filter((m): m is string => typeof m === "string") : [];
    return {
      sub,
      sid,
      jti,
      iat: Number(iat),
      exp: Number(exp),
      auth_time: Number(auth_time ?? 0),
      amr: methods,
      roles: roleList,
      fresh: fresh === true,
    };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new AppError("token_expired");
    throw new AppError("invalid_token");
  }
}
