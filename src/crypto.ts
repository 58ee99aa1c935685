import { base64url as jose } from "jose";

/**
 * Small WebCrypto helpers shared by passwords, tokens, sessions and API keys.
 * Everything is base64url so values travel in URLs and headers unchanged; the codec is jose's,
 * which the worker bundles anyway for its tokens.
 */
const encoder = new TextEncoder();

/** Unpadded base64url of bytes. */
export function base64url(bytes: ArrayBuffer | Uint8Array): string {
  return jose.encode(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
}

/** Bytes of a base64url string (padding optional); throws on anything else. */
export function fromBase64url(value: string): Uint8Array {
  return jose.decode(value);
}

/** Standard (padded) base64 of a short byte string: Standard Webhooks signatures and CSP hash sources use it. */
export function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** An opaque token with `bytes * 8` bits of entropy (32 bytes = 256 bits by default). */
export function randomToken(bytes = 32): string {
  return base64url(randomBytes(bytes));
}

export async function sha256(value: string): Promise<string> {
  return base64url(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

export async function hmacSha256(key: string | Uint8Array, value: string | Uint8Array): Promise<Uint8Array> {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const data = typeof value === "string" ? encoder.encode(value) : value;
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data));
}

/** Constant-time comparison of equal-length byte strings; different lengths are simply unequal. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}

export function utf8(value: string): Uint8Array {
  return encoder.encode(value);
}

/** Standard base64 SHA-256, the form CSP hash sources (`'sha256-…'`) take. */
export async function sha256Base64(value: string): Promise<string> {
  return `sha256-${base64(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value))))}`;
}
