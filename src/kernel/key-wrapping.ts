import type { JWK } from "jose";
import { base64url, fromBase64url, randomBytes, utf8 } from "../crypto";
import type { WrappedSecret } from "../db/schema";
import type { StoredPrivateJwk, WrappedJwk } from "../db/signing-keys";

/**
 * Generated private keys are stored in D1 wrapped: AES-256-GCM under a key derived with HKDF-SHA256
 * from a key-encryption secret, the row's `kid` as associated data (a ciphertext moved to another
 * row does not decrypt). The envelope is JSON in the same `private_jwk` column, so no schema change:
 * a row is either a clear JWK (written before wrapping existed) or `{"wrapped":"A256GCM",…}`.
 *
 * Which secret wraps (`kek`):
 * - `secret`: `SIGNING_KEY_ENCRYPTION_SECRET`, what a deployment sets;
 * - `dev`: a fixed, published dev-only secret, used in dev mode (DEV_OUTBOX) when no secret is set.
 *   It protects nothing (it is in this file); it exists so that `npm run dev` stays zero-config
 *   while running the same wrap/unwrap code a deployment runs, and so the tests exercise it.
 */

/** The secret that wraps new keys (and re-wraps weaker rows), or none: keys cannot be generated. */
export interface Wrapping {
  kek: WrappedJwk["kek"];
  secret: string;
}

const DEV_WRAPPING_SECRET = "gatehouse dev-only signing-key wrapping secret: public, protects nothing";
const HKDF_INFO = "gatehouse signing-key wrapping v1";

function isWrapped(stored: StoredPrivateJwk): stored is WrappedJwk {
  return (stored as Partial<WrappedJwk>).wrapped === "A256GCM";
}

/**
 * Whether a stored key is wrapped with the published dev-only secret: anyone who read the row (a
 * backup, a leaked export) can unwrap it, so outside dev mode it never signs and its private part
 * is never used (see signing-keys.ts); its public part stays published until the row is removed.
 */
export function isDevWrapped(stored: StoredPrivateJwk): boolean {
  return isWrapped(stored) && stored.kek === "dev";
}

/** The configured secret when set; the dev-only one in dev mode; otherwise undefined. */
export function wrappingFor(options: { secret: string | undefined; devMode: boolean }): Wrapping | undefined {
  if (options.secret) return { kek: "secret", secret: options.secret };
  if (options.devMode) return { kek: "dev", secret: DEV_WRAPPING_SECRET };
  return undefined;
}

/** Whether a stored row should be re-wrapped under `wrapping`: it is clear, or under the dev secret while a real one is set. */
export function needsRewrap(stored: StoredPrivateJwk, wrapping: Wrapping | undefined): boolean {
  if (!wrapping) return false;
  return !isWrapped(stored) || (stored.kek === "dev" && wrapping.kek === "secret");
}

async function deriveKek(secret: string, info = HKDF_INFO): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", utf8(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8(info) },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export async function wrapJwk(jwk: JWK, kid: string, wrapping: Wrapping): Promise<WrappedJwk> {
  const iv = randomBytes(12);
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(kid) },
    await deriveKek(wrapping.secret),
    utf8(JSON.stringify(jwk)),
  );
  return { wrapped: "A256GCM", kek: wrapping.kek, iv: base64url(iv), ciphertext: base64url(ciphertext) };
}

/**
 * The clear JWK of a stored row. A `secret` envelope needs `SIGNING_KEY_ENCRYPTION_SECRET` (the
 * one it was made with); a `dev` envelope opens anywhere.
 */
export async function unwrapJwk(stored: StoredPrivateJwk, kid: string, secret: string | undefined): Promise<JWK> {
  if (!isWrapped(stored)) return stored;
  const key = stored.kek === "dev" ? DEV_WRAPPING_SECRET : secret;
  if (!key) throw new Error(`signing key ${kid} is encrypted: set SIGNING_KEY_ENCRYPTION_SECRET`);
  let clear: ArrayBuffer;
  try {
    clear = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64url(stored.iv), additionalData: utf8(kid) },
      await deriveKek(key),
      fromBase64url(stored.ciphertext),
    );
  } catch {
    throw new Error(`signing key ${kid} does not decrypt: SIGNING_KEY_ENCRYPTION_SECRET is not the one it was stored with`);
  }
  return JSON.parse(new TextDecoder().decode(clear)) as JWK;
}

/**
 * Account secrets (a TOTP key) are wrapped the same way, under a key derived with its own label, the
 * row's owner as associated data: a ciphertext copied to another account does not decrypt.
 */
const SECRET_HKDF_INFO = "gatehouse account-secret wrapping v1";

export async function wrapSecret(secret: Uint8Array, owner: string, wrapping: Wrapping): Promise<WrappedSecret> {
  const iv = randomBytes(12);
  const key = await deriveKek(wrapping.secret, SECRET_HKDF_INFO);
  const ciphertext = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(owner) }, key, secret);
  return { wrapped: "A256GCM", kek: wrapping.kek, iv: base64url(iv), ciphertext: base64url(ciphertext) };
}

/** The clear secret, or null when it does not decrypt (another secret, another row). */
export async function unwrapSecret(stored: WrappedSecret, owner: string, secret: string | undefined): Promise<Uint8Array | null> {
  const material = stored.kek === "dev" ? DEV_WRAPPING_SECRET : secret;
  if (!material) return null;
  try {
    const key = await deriveKek(material, SECRET_HKDF_INFO);
    const iv = fromBase64url(stored.iv);
    return new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: utf8(owner) }, key, fromBase64url(stored.ciphertext)),
    );
  } catch {
    return null;
  }
}
