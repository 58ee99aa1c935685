import { PASSWORD_MIN_LENGTH_DEFAULT } from "../config/passwords";
import { AppError } from "../errors";
import { COMMON_PASSWORDS } from "./common-passwords";

/**
 * The password policy (NIST SP 800-63B style): length, not common, not personal, not trivially
 * patterned. No composition rules unless switched on. The password is judged exactly as sent:
 * no trimming or normalisation, so what the user typed is what is hashed.
 */
const PASSWORD_MAX_LENGTH = 128;

export interface PasswordContext {
  email?: string | undefined;
  username?: string | null | undefined;
  fullName?: string | undefined;
}

export interface PolicyOptions {
  requireCharacterClasses: boolean;
  /** Fewest characters (code points); {@link PASSWORD_MIN_LENGTH_DEFAULT} when absent. */
  passwordMinLength?: number;
}

const KEYBOARD_ROWS = ["`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p"];

/** Why a password is refused: the API's English words and the pages' catalogue key (`passwordPolicy.*`). */
export interface Weakness {
  message: string;
  reason: { key: `passwordPolicy.${string}`; values?: { count: number } };
}

const weakness = (message: string, rule: string, count?: number): Weakness => ({
  message,
  reason: { key: `passwordPolicy.${rule}`, ...(count === undefined ? {} : { values: { count } }) },
});

/** Returns why the password is refused, or null when it is acceptable. */
export function passwordWeakness(password: string, context: PasswordContext, options: PolicyOptions): Weakness | null {
  const length = [...password].length;
  const minLength = options.passwordMinLength ?? PASSWORD_MIN_LENGTH_DEFAULT;
  if (length < minLength) return weakness(`Use at least ${minLength} characters.`, "tooShort", minLength);
  if (length > PASSWORD_MAX_LENGTH) return weakness(`Use at most ${PASSWORD_MAX_LENGTH} characters.`, "tooLong", PASSWORD_MAX_LENGTH);

  const lower = password.toLowerCase();
  if (isTriviallyPatterned(lower)) return weakness("This password is a simple pattern (repeated or sequential characters).", "pattern");

  const core = lower.replace(/^[\d\W_]+|[\d\W_]+$/g, "");
  if (COMMON_PASSWORDS.has(lower) || (core.length >= 4 && COMMON_PASSWORDS.has(core))) {
    return weakness("This password is too common; it appears in lists of breached passwords.", "common");
  }

  for (const part of personalParts(context)) {
    if (lower.includes(part)) return weakness("The password must not contain your email, username or name.", "personal");
  }

  if (options.requireCharacterClasses) {
    const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
    if (classes < 3) return weakness("Use at least three of: lower-case letters, upper-case letters, digits, symbols.", "classes");
  }
  return null;
}

/** Throws `weak_password` (422) with the reason in `errors`. */
export function assertStrongPassword(password: string, context: PasswordContext, options: PolicyOptions, field = "password"): void {
  const weak = passwordWeakness(password, context, options);
  if (weak) throw new AppError("weak_password", { detail: weak.message, errors: [{ field, ...weak }] });
}

function personalParts(context: PasswordContext): string[] {
  const parts: string[] = [];
  const local = context.email?.split("@")[0]?.toLowerCase();
  if (local) parts.push(local, ...local.split(/[._+-]+/));
  if (context.username) parts.push(context.username.toLowerCase());
  if (context.fullName) parts.push(...context.fullName.toLowerCase().split(/\s+/));
  // Very short fragments ("al", "li") would refuse half of all passwords without adding safety.
  return [...new Set(parts)].filter((p) => p.length >= 3);
}

function isTriviallyPatterned(lower: string): boolean {
  const chars = [...lower];
  if (new Set(chars).size <= 2) return true;
  if (/^(.{1,4})\1+.{0,3}$/su.test(lower)) return true;
  if (isSequential(chars)) return true;
  return KEYBOARD_ROWS.some((row) => row.includes(lower) || [...row].reverse().join("").includes(lower));
}

/** "abcdefgh", "12345678", "98765432": every step is the same +1 or -1. */
function isSequential(chars: string[]): boolean {
  const codes = chars.map((c) => c.codePointAt(0) ?? 0);
  const step = (codes[1] ?? 0) - (codes[0] ?? 0);
  if (Math.abs(step) !== 1) return false;
  return codes.every((code, i) => i === 0 || code - (codes[i - 1] ?? 0) === step);
}
