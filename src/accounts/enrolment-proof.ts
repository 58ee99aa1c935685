import { sql, type SQL } from "drizzle-orm";
import { users, type User } from "../db/schema";
import { findUserById } from "../db/users";
import { AppError } from "../errors";
import { checkEmailCode, mailEmailCode } from "../factors/email-codes";
import type { Deps } from "../kernel/deps";
import { enrolmentCodeMail } from "../mail/templates";

/**
 * After an administrator reset an account's second factors (admin/mfa-reset.ts), the next enrolment
 * also needs a code mailed to the account's address, so a help-desk reset talked into by someone
 * with only the password cannot become a takeover (API.md "MFA policy"). The code is asked for
 * where an enrolment starts: `POST /users/me/mfa/totp` and `POST /users/me/passkeys/options`.
 */

/**
 * Whether starting an enrolment needed the mailed code and got it (`mailbox`), or needs none
 * (`none`). Without the code: 403 `email_code_required`, and a code is mailed (at most one a
 * minute); a wrong one: 401 `invalid_code` (five and it dies). Read on the primary: a reset just
 * made must not be missed by a replica's older row.
 */
export async function enrolmentProof(deps: Deps, user: User, emailCode: string | undefined): Promise<"mailbox" | "none"> {
  const current = await findUserById(deps.db, user.id);
  if (!current?.mfaResetAt) return "none";
  if (emailCode) {
    const result = await checkEmailCode(deps, current, "mfa_enrolment", emailCode);
    if (result === "ok") return "mailbox";
    if (result === "wrong") throw new AppError("invalid_code", { detail: "The code from the email is wrong." });
  }
  return mailboxCodeRequired(deps, current);
}

/** Mails a code (unless one went out in the last minute) and answers 403 `email_code_required`. */
export async function mailboxCodeRequired(deps: Deps, user: User): Promise<never> {
  await mailEmailCode(deps, user, "mfa_enrolment", (code) => enrolmentCodeMail(deps, user, code));
  throw new AppError("email_code_required");
}

/** SQL: no administrator's reset waits for a mailed code (the fence of an enrolment made without one). */
export function noResetPending(userId: string): SQL {
  return sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.mfaResetAt} IS NULL)`;
}
