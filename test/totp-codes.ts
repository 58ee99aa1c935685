import { generateHOTP } from "@oslojs/otp";

/**
 * Authenticator-app codes for tests, computed from the base32 key a page or the API shows, as an
 * app would (RFC 6238: SHA-1, 6 digits, 30-second steps).
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (no padding, spaces ignored), as the key is shown. */
function base32Decode(text: string): Uint8Array {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text.replace(/[\s=]/g, "").toUpperCase()) {
    const index = ALPHABET.indexOf(char);
    if (index === -1) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >> bits) & 255);
    }
  }
  return new Uint8Array(bytes);
}

/** The current time step (the clock may be faked). */
export const currentStep = (): number => Math.floor(Date.now() / 30_000);

/**
 * The code of `step` (default: now). A step at or before the last accepted one is refused, so a
 * second use in one test takes `currentStep() + 1` (accepted: one step of drift either way).
 */
export function totpCode(secret: string, step = currentStep()): string {
  return generateHOTP(base32Decode(secret), BigInt(step), 6);
}
