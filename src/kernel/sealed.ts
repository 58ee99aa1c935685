import { base64url, fromBase64url, randomBytes, utf8 } from "../crypto";
import type { KeySet } from "./signing-keys";

/**
 * Self-contained tokens the client carries and only this deployment can read or make: JSON sealed
 * with AES-256-GCM under the key derived from the signing key (`KeySet.sealKey`), the token's
 * prefix as associated data so one kind can never pass for another. `gm1.` an `mfa_token`, `ge1.`
 * a sign-in link's code.
 */
export async function sealClaims(keys: KeySet, prefix: string, claims: object): Promise<string> {
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(prefix) },
    keys.sealKey,
    utf8(JSON.stringify(claims)),
  );
  return prefix + base64url(iv) + "." + base64url(sealed);
}

/** The claims of a token this deployment sealed under `prefix`, whatever their age; null for anything else. */
export async function openClaims<T>(keys: KeySet, prefix: string, token: string): Promise<T | null> {
  if (!token.startsWith(prefix)) return null;
  const match = /^([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{20,2048})$/.exec(token.slice(prefix.length));
  if (!match) return null;
  try {
    const clear = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64url(match[1]!), additionalData: utf8(prefix) },
      keys.sealKey,
      fromBase64url(match[2]!),
    );
    return JSON.parse(new TextDecoder().decode(clear)) as T;
  } catch {
    return null;
  }
}
