import { AppError } from "../errors";
import type { AccessTokenClaims } from "./access-tokens";
import type { Deps } from "../deps";

/**
 * The access-token blacklist in KV. Access tokens stay stateless JWTs; these keys make a revoked
 * one fail at once at this location and within about 60 s everywhere (KV's propagation time):
 *
 *   revoked:jti:<jti>      one token (logout)                      TTL: the token's remaining life
 *   revoked:sid:<sid>      every token of a session                TTL: access-token lifetime
 *   revoked:user:<userId>  "not before": tokens issued earlier die TTL: access-token lifetime
 *
 * A key never needs to outlive the tokens it kills, and KV wants TTLs of at least 60 s.
 */
const MIN_KV_TTL = 60;

const jtiKey = (jti: string) => `revoked:jti:${jti}`;
const sessionKey = (sid: string) => `revoked:sid:${sid}`;
const userKey = (userId: string) => `revoked:user:${userId}`;

function ttl(seconds: number): number {
  return Math.max(MIN_KV_TTL, Math.ceil(seconds));
}

export async function revokeAccessToken(deps: Deps, claims: Pick<AccessTokenClaims, "jti" | "exp">): Promise<void> {
  const remaining = claims.exp - deps.now().getTime() / 1000;
  if (remaining <= 0) return;
  await deps.kv.put(jtiKey(claims.jti), "1", { expirationTtl: ttl(remaining) });
}

export async function revokeSessionAccess(deps: Deps, sessionIds: string[]): Promise<void> {
  const expirationTtl = ttl(deps.config.accessTokenTtl);
  await Promise.all(sessionIds.map((sid) => deps.kv.put(sessionKey(sid), "1", { expirationTtl })));
}

/** Every access token of the user issued before now stops working. */
export async function revokeUserAccess(deps: Deps, userId: string): Promise<void> {
  const notBefore = Math.floor(deps.now().getTime() / 1000);
  await deps.kv.put(userKey(userId), String(notBefore), { expirationTtl: ttl(deps.config.accessTokenTtl) });
}

/** One bulk KV read answers all three questions. Throws `token_revoked` (401). */
export async function assertNotRevoked(deps: Deps, claims: AccessTokenClaims): Promise<void> {
  const keys = [jtiKey(claims.jti), sessionKey(claims.sid), userKey(claims.sub)];
  const values = await deps.kv.get(keys, "text");
  if (values.get(keys[0]!) || values.get(keys[1]!)) throw new AppError("token_revoked");
  const notBefore = values.get(keys[2]!);
  if (notBefore && claims.iat < Number(notBefore)) throw new AppError("token_revoked");
}
