import { base64url, fromBase64url, hmacSha256, randomToken, utf8 } from "../crypto";
import type { KeySet } from "../kernel/signing-keys";

/**
 * The refresh token's form: `<session id>.<256 random bits, base64url>`. Naming the session lets a
 * refresh derive the session's rotation key instead of reading it, so the rotation goes to the D1
 * primary at once (one far round trip: see sessions.ts `refreshSession`). The id is no secret: it
 * is in every access token's `sid` already, and the random part alone is what must match.
 *
 * Each rotation replaces the token with its successor, `HMAC-SHA256(rotation key, token)` behind the
 * same `<session id>.` prefix. The rotation key of a new session is derived from a key of the
 * signing key set and the session id, and stored in `sessions.rotation_key` like the random keys of
 * sessions begun before this form existed (whose tokens are bare random strings and keep that form).
 * A refresh always fences its rotation on the stored key, so when the signing key changes, a derived
 * key simply stops matching and the refresh takes the slower path that reads the stored one.
 */

const NAMED = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/;

/** A new session's first refresh token (and a step-up's new one). */
export function newRefreshToken(sessionId: string): string {
  return `${sessionId}.${randomToken(32)}`;
}

/** The session a refresh token names, or null for a token of the older bare form (or no token at all). */
export function sessionIdOf(token: string): string | null {
  return NAMED.exec(token)?.[1] ?? null;
}

/** The rotation key of a session whose tokens name it (stored as `rotation_key`, base64url). */
export async function rotationKeyFor(keys: Pick<KeySet, "sessionRotationKey">, sessionId: string): Promise<string> {
  return base64url(await crypto.subtle.sign("HMAC", keys.sessionRotationKey, utf8(`gatehouse-rotation:${sessionId}`)));
}

/** The token that replaces `token` (same for every request presenting it, so concurrent tabs converge). */
export async function successor(rotationKey: string, token: string): Promise<string> {
  const next = base64url(await hmacSha256(fromBase64url(rotationKey), `gatehouse-refresh:${token}`));
  const sessionId = sessionIdOf(token);
  return sessionId === null ? next : `${sessionId}.${next}`;
}
