import { secondFactorPolicies } from "../config/rate-limits";
import { sha256 } from "../crypto";
import type { User } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { sendMail } from "../mail/mail";
import type { MailMessage } from "../mail/mail";

/**
 * Codes mailed to an account's address: 8 digits, 10 minutes, one live code per purpose, five wrong
 * answers and it dies (judged in the account's Durable Object: abuse/objects/email-codes.ts).
 * Today one purpose: the first enrolment after an administrator's reset of the second factors.
 */
export type EmailCodePurpose = "mfa_enrolment";

const CODE_TTL_MS = 10 * 60_000;
/** Asking again within a minute of the last code neither replaces it nor mails again. */
const RESEND_AFTER_MS = 60_000;
const DIGITS = 8;

/** A uniformly random 8-digit code (rejection sampling: no digit is likelier than another). */
export function newEmailCode(): string {
  const limit = Math.floor(2 ** 32 / 10 ** DIGITS) * 10 ** DIGITS;
  for (;;) {
    const [n] = crypto.getRandomValues(new Uint32Array(1));
    if (n! < limit) return String(n! % 10 ** DIGITS).padStart(DIGITS, "0");
  }
}

/** What the account's object keeps of a code: bound to the account and the purpose. */
const codeHash = (user: Pick<User, "id">, purpose: EmailCodePurpose, code: string) => sha256(`${purpose}:${user.id}:${code}`);

/**
 * Makes a new code the live one and mails it to the account's address (class `account`: a
 * stranger's requests never spend it). Within a minute of the last one, or beyond the day's
 * `mfa_enrolment_code_user_day`, nothing happens.
 */
export async function mailEmailCode(
  deps: Deps,
  user: User,
  purpose: EmailCodePurpose,
  compose: (code: string) => Promise<MailMessage>,
): Promise<void> {
  const code = newEmailCode();
  const issue = {
    purpose,
    hash: await codeHash(user, purpose, code),
    expiresAt: deps.now().getTime() + CODE_TTL_MS,
    resendAfterMs: RESEND_AFTER_MS,
    policies: secondFactorPolicies(deps.config.rateLimits, "enrolment_code"),
  };
  const { issued } = await deps.limiter(`user:${user.id}`, (stub) => stub.issueEmailCode(issue, deps.now().getTime()));
  if (issued) sendMail(deps, compose(code), { class: "account" });
}

/** `ok` uses the code up; `wrong` counts against it; `none`: no live code (never sent, used, expired or spent). */
export async function checkEmailCode(deps: Deps, user: User, purpose: EmailCodePurpose, code: string): Promise<"ok" | "wrong" | "none"> {
  const check = { purpose, hash: await codeHash(user, purpose, code.trim()) };
  return deps.limiter(`user:${user.id}`, (stub) => stub.checkEmailCode(check, deps.now().getTime()));
}
