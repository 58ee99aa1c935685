import { createTOTPKeyURI, verifyHOTP } from "@oslojs/otp";
import { renderSVG } from "uqr";
import { randomBytes } from "../crypto";

/**
 * TOTP (RFC 6238) as every authenticator app speaks it: SHA-1, 6 digits, 30-second steps, a code of
 * the current step or one step either side accepted (clock drift). `@oslojs/otp` computes the codes;
 * it does not say which step matched, so each is checked here and the caller records the step it
 * accepted (a code of that step or an earlier one never works again: abuse/objects/second-factor.ts).
 */
export const TOTP_PERIOD_MS = 30_000;
const DIGITS = 6;
/** RFC 4226 recommends 160 bits for SHA-1. */
const SECRET_BYTES = 20;

export function newTotpSecret(): Uint8Array {
  return randomBytes(SECRET_BYTES);
}

/** The `otpauth://` URI an authenticator app reads from the QR code. */
export function otpauthUri(issuer: string, account: string, secret: Uint8Array): string {
  return createTOTPKeyURI(issuer, account, secret, TOTP_PERIOD_MS / 1000, DIGITS);
}

/** The secret as people type it into an app: base32 without padding (in the URI too). */
export function base32Secret(uri: string): string {
  return new URL(uri).searchParams.get("secret") ?? "";
}

/** The time steps (current ± 1) whose code is `code`; none for a wrong or malformed code. */
export function matchingSteps(secret: Uint8Array, code: string, now: Date): number[] {
  const digits = code.replace(/[\s-]/g, "");
  if (!/^\d{6}$/.test(digits)) return [];
  const current = Math.floor(now.getTime() / TOTP_PERIOD_MS);
  return [current - 1, current, current + 1].filter((step) => verifyHOTP(secret, BigInt(step), DIGITS, digits));
}

/** The URI as a QR code, an SVG drawn here (no external service sees the secret, no script runs). */
export function qrSvg(uri: string): string {
  return renderSVG(uri, { border: 2, ecc: "M" });
}
