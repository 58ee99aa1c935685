import { base64url, fromBase64url, hmacSha256, randomBytes, sha256, timingSafeEqual } from "../crypto";

/**
 * The API key wire format and its hash: pure functions, no storage.
 *
 *   <prefix><key id><secret>      e.g. gh_3f9a1c0b7d2e4a68 + 64 hex characters
 *
 * - `prefix`: `API_KEY_PREFIX` (default `gh_`), so secret scanners can match leaked keys.
 * - key id: 8 random bytes as 16 lowercase hex characters. Public: stored in clear under a unique
 *   index and used to find the row in one indexed read.
 * - secret: 32 random bytes (256 bits) as 64 lowercase hex characters. Only its hash is stored.
 *
 * Both parts have fixed lengths and one alphabet, so parsing is unambiguous whatever the prefix.
 */
const KEY_ID_HEX_LENGTH = 16;
const SECRET_HEX_LENGTH = 64;

const BODY = new RegExp(`^([0-9a-f]{${KEY_ID_HEX_LENGTH}})([0-9a-f]{${SECRET_HEX_LENGTH}})$`);

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface GeneratedKey {
  keyId: string;
  secret: string;
  /** The full key, shown to its owner once. */
  apiKey: string;
}

export function generateApiKey(prefix: string): GeneratedKey {
  const keyId = hex(randomBytes(KEY_ID_HEX_LENGTH / 2));
  const secret = hex(randomBytes(SECRET_HEX_LENGTH / 2));
  return { keyId, secret, apiKey: `${prefix}${keyId}${secret}` };
}

/** Splits a presented key; null for anything that is not exactly prefix + key id + secret. */
export function parseApiKey(prefix: string, presented: string): { keyId: string; secret: string } | null {
  if (!presented.startsWith(prefix)) return null;
  const match = BODY.exec(presented.slice(prefix.length));
  if (!match) return null;
  return { keyId: match[1]!, secret: match[2]! };
}

/** The public part shown in listings: enough to recognise a key, useless to authenticate. */
export function displayPrefix(prefix: string, keyId: string): string {
  return `${prefix}${keyId}`;
}

/**
 * The stored hash, tagged with its scheme so that setting `API_KEY_HMAC_SECRET` later does not
 * break keys created before:
 *   `hmac:<base64url HMAC-SHA-256(server secret, input)>` when the secret is configured,
 *   `sha256:<base64url SHA-256(input)>` otherwise (fine for a 256-bit random secret).
 * The input binds the key id, so a hash copied onto another row does not match there.
 */
export async function hashApiKeySecret(hmacSecret: string | undefined, keyId: string, secret: string): Promise<string> {
  const input = `gatehouse-api-key:${keyId}:${secret}`;
  if (hmacSecret) return `hmac:${base64url(await hmacSha256(hmacSecret, input))}`;
  return `sha256:${await sha256(input)}`;
}

/** Recomputes the hash in the stored row's scheme and compares in constant time. */
export async function verifyApiKeySecret(hmacSecret: string | undefined, keyId: string, secret: string, stored: string): Promise<boolean> {
  const scheme = stored.slice(0, stored.indexOf(":") + 1);
  // A key hashed with HMAC cannot be checked once the server secret is gone: refuse it.
  if (scheme === "hmac:" && !hmacSecret) return false;
  if (scheme !== "hmac:" && scheme !== "sha256:") return false;
  const expected = await hashApiKeySecret(scheme === "hmac:" ? hmacSecret : undefined, keyId, secret);
  const a = fromBase64url(expected.slice(scheme.length));
  const b = fromBase64url(stored.slice(scheme.length));
  return timingSafeEqual(a, b);
}
