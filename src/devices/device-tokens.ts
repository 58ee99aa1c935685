import { base64url, fromBase64url, utf8 } from "../crypto";

/**
 * Device tokens: `gd1.<device id>.<issued at, ms>.<HMAC-SHA256 over user id, device id and issue
 * time>`. The user id is not in the token: a token only ever counts for the account it was issued
 * to, which the login names. The signature makes forging one impossible without the key; the
 * `devices` row makes it revocable, and tokens issued before the user's credentials epoch are dead.
 */
const VERSION = "gd1";
const FORMAT = /^gd1\.([0-9a-f-]{36})\.(\d{13})\.([A-Za-z0-9_-]{43})$/;

/** Days a device token stays valid. */
export const DEVICE_TOKEN_LIFETIME_MS = 90 * 86_400_000;

const signed = (userId: string, deviceId: string, issuedAt: number) => utf8(`${VERSION}:${userId}:${deviceId}:${issuedAt}`);

export async function signDeviceToken(key: CryptoKey, userId: string, deviceId: string, issuedAt: number): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed(userId, deviceId, issuedAt)));
  return `${VERSION}.${deviceId}.${issuedAt}.${base64url(mac)}`;
}

/** The device id a well-formed token names, unverified: only to read that row early. */
export function deviceIdOf(token: string): string | null {
  return FORMAT.exec(token)?.[1] ?? null;
}

/** The device a token names, if its signature holds for `userId`; nothing else is checked here. */
export async function verifyDeviceToken(
  key: CryptoKey,
  token: string,
  userId: string,
): Promise<{ deviceId: string; issuedAt: number } | null> {
  const match = FORMAT.exec(token);
  if (!match) return null;
  const [, deviceId, issued, mac] = match as unknown as [string, string, string, string];
  // One spelling per token: the last character's padding bits must be zero, so a token cannot be
  // varied into look-alikes that verify.
  if (base64url(fromBase64url(mac)) !== mac) return null;
  const issuedAt = Number(issued);
  // crypto.subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify("HMAC", key, fromBase64url(mac), signed(userId, deviceId, issuedAt));
  return valid ? { deviceId, issuedAt } : null;
}
