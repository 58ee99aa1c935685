import { randomBytes, sha256 } from "../crypto";

/**
 * Recovery codes: 10 per set, each 16 characters of Crockford's base32 (80 random bits), shown as
 * `xxxx-xxxx-xxxx-xxxx`. Only a SHA-256 of each is stored: with 80 random bits there is nothing to
 * gain from a slow hash. Entry forgives case, spaces, dashes and the look-alikes Crockford maps.
 */
const RECOVERY_CODES_PER_SET = 10;
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const LENGTH = 16;

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODES_PER_SET }, () => {
    const chars = [...randomBytes(LENGTH)].map((b) => ALPHABET[b % 32]).join("");
    return chars.match(/.{4}/g)!.join("-");
  });
}

/** The canonical form of an entered code, or null when it cannot be one. */
function normalize(code: string): string | null {
  const clean = code.toLowerCase().replace(/[\s-]/g, "").replace(/[il]/g, "1").replace(/o/g, "0");
  return clean.length === LENGTH && [...clean].every((c) => ALPHABET.includes(c)) ? clean : null;
}

/** What is stored and compared: the hash of the canonical form (null: not a code at all). */
export async function recoveryCodeHash(code: string): Promise<string | null> {
  const clean = normalize(code);
  return clean === null ? null : sha256(`gatehouse-recovery:${clean}`);
}
