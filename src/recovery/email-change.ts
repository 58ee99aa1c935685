import type { User } from "../db/schema";
import { changeUserEmail, findUserByEmail, findUserById } from "../db/users";
import { AppError, isUniqueViolation } from "../errors";
import { recordAudit } from "../audit/audit";
import { assertCurrentPassword } from "../accounts/credentials";
import type { Deps } from "../deps";
import { sendMail } from "../mail/mail";
import { emailChangeMail } from "../mail/templates";
import { sendSecurityNotice } from "../mail/notices";
import { consumeOneTimeToken, invalidLink, issueOneTimeToken, type TokenPayload } from "./one-time-tokens";

/**
 * Changing the account's address: `POST /users/me/email` mails a link to the new address and a
 * notice to the old one; the address changes only when the link is opened (`/auth/verify-email`),
 * and only if no other live account holds it by then.
 */
export interface EmailChangeInput {
  new_email: string;
  password: string;
}

const TAKEN = "This address already belongs to another account.";

/**
 * Answers the same 202 whether or not `new_email` is taken, so a signed-in caller cannot probe
 * which addresses have accounts; a taken address is refused when its link is opened.
 */
export async function requestEmailChange(deps: Deps, user: User, input: EmailChangeInput): Promise<void> {
  await assertCurrentPassword(deps, user, input.password);
  if (input.new_email === user.email) {
    throw new AppError("validation_failed", { errors: [{ field: "new_email", message: "This is already your email address." }] });
  }
  // A newer request supersedes older links (see one-time-tokens.ts): only the latest address can win.
  const token = await issueOneTimeToken(deps, "email_change", { userId: user.id, email: input.new_email });
  sendMail(deps, emailChangeMail(input.new_email, deps.config.publicUrl, token));
  await recordAudit(deps, { action: "email.change_requested", userId: user.id, resource: `user:${user.id}` });
  await sendSecurityNotice(deps, user.id, "email_change_requested", user.email);
}

/**
 * Completes a change with a token already found for purpose `email_change`. A taken address answers
 * 409 `email_taken` before the token is consumed (the link stays usable until it expires); when two
 * confirmations race for one address, the partial unique index on `users.email` decides and the
 * loser gets the same 409.
 */
export async function confirmEmailChange(deps: Deps, token: string, payload: TokenPayload): Promise<void> {
  const user = await findUserById(deps.db, payload.userId);
  if (!user || !user.isActive) throw invalidLink();
  const holder = await findUserByEmail(deps.db, payload.email);
  if (holder && holder.id !== user.id) throw new AppError("email_taken", { detail: TAKEN });

  await consumeOneTimeToken(deps, "email_change", token);
  let updated: User | undefined;
  try {
    updated = await changeUserEmail(deps.db, user.id, user.email, payload.email, deps.now());
  } catch (error) {
    if (isUniqueViolation(error, "users.email")) throw new AppError("email_taken", { detail: TAKEN });
    throw error;
  }
  // The account's address moved under us (another change finished first): nothing was changed.
  if (!updated) throw invalidLink();
  await recordAudit(deps, { action: "email.changed", userId: user.id, resource: `user:${user.id}` });
  await sendSecurityNotice(deps, user.id, "email_changed", user.email);
}
