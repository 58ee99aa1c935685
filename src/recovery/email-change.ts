import type { User } from "../db/schema";
import { findUserByEmail, findUserById } from "../db/users";
import { AppError, isUniqueViolation } from "../errors";
import { recordAudit } from "../audit/audit";
import { assertSensitive } from "../accounts/credentials";
import type { FreshnessOf } from "../accounts/fresh-auth";
import type { Deps } from "../kernel/deps";
import { mailToken, sendMailNow, type Undelivered } from "../mail/mail";
import { emailChangeMail, emailRevertMail } from "../mail/templates";
import { enforceAddressLimit, enforceUserLimit } from "../abuse/request-limits";
import { sendSecurityNotice } from "../mail/notices";
import { DISABLED_PASSWORD } from "../accounts/passwords";
import { assertNotDisposable } from "../accounts/disposable-email";
import { changeCredentials } from "../sessions/credential-change";
import {
  consumeOneTimeToken,
  invalidLink,
  issueOneTimeToken,
  outstandingTokens,
  peekOneTimeToken,
  prepareOneTimeToken,
  voidMarkers,
  type TokenPayload,
} from "../kernel/one-time-tokens";
import { VOIDED_BY_MAILBOX_PROOF } from "./first-proof";
import { mailResetLink } from "./password-reset";

/**
 * Changing the account's address: `POST /users/me/email` mails a link to the new address and a
 * notice to the old one; the address changes only when the link is opened (`/auth/verify-email`),
 * and only if no other live account holds it by then.
 */
export interface EmailChangeInput {
  new_email: string;
  password?: string | undefined;
}

const TAKEN = "This address already belongs to another account.";

/**
 * Answers the same 202 whether or not `new_email` is taken, so a signed-in caller cannot probe
 * which addresses have accounts; a taken address is refused when its link is opened. Any account
 * holder can name any address, so requests are limited per user and per target address (429), and
 * the confirmation mail is unsolicited mail to that address: it spends that class's budget, never
 * the budgets of the mail the address's owner asks for or is told about.
 */
export async function requestEmailChange(deps: Deps, caller: FreshnessOf, input: EmailChangeInput): Promise<void> {
  const { user } = caller;
  await assertSensitive(deps, caller, input.password, "password");
  if (input.new_email === user.email) {
    throw new AppError("validation_failed", {
      errors: [{ field: "new_email", message: "This is already your email address.", reason: { key: "errors.alreadyYourAddress" } }],
    });
  }
  await assertNotDisposable(deps, input.new_email, "new_email");
  // In turn, so a request the user's own limit refuses spends nothing of the address's.
  await enforceUserLimit(deps, "email_change", user.id);
  await enforceAddressLimit(deps, "email_change", input.new_email, user.id);
  // A newer request supersedes older links (see one-time-tokens.ts): only the latest address can
  // win. The token is issued once its mail is admitted, so a mail over budget voids nothing.
  const trigger = { class: "unsolicited", requesterId: user.id } as const;
  deps.waitUntil(
    mailToken(deps, input.new_email, "email_change", trigger, async () => {
      const payload = { userId: user.id, email: input.new_email, sessionId: caller.sessionId };
      // The new address has no account yet: the mail speaks the account's language.
      return emailChangeMail(deps, { email: input.new_email, locale: user.locale }, await issueOneTimeToken(deps, "email_change", payload));
    }),
  );
  await recordAudit(deps, { action: "email.change_requested", userId: user.id, resource: `user:${user.id}` });
  await sendSecurityNotice(deps, user.id, "email_change_requested", user);
}

/**
 * Completes a change with a token already found for purpose `email_change`. A taken address answers
 * 409 `email_taken` before the token is consumed (the link stays usable until it expires); when two
 * confirmations race for one address, the partial unique index on `users.email` decides and the
 * loser gets the same 409. The session that asked for the change survives; every other one ends.
 *
 * The old address gets a link that undoes the change for 7 days, and it is the safety net against a
 * phished password: the change happens only if that mail was admitted by the old address's budget
 * and handed to the transport within this request (429 or 503 otherwise, and the link stays
 * usable). The mail goes out first; its link works only once the change commits (its marker is
 * written in the change's batch), so a change that fails after the mail leaves a dead link.
 */
export async function confirmEmailChange(deps: Deps, token: string, payload: TokenPayload): Promise<void> {
  const user = await findUserById(deps.db, payload.userId);
  if (!user || !user.isActive) throw invalidLink();
  const holder = await findUserByEmail(deps.db, payload.email);
  if (holder && holder.id !== user.id) throw new AppError("email_taken", { detail: TAKEN });

  const revert = await prepareOneTimeToken(deps, "email_revert", { userId: user.id, email: user.email, newEmail: payload.email });
  const undelivered = await sendMailNow(deps, emailRevertMail(deps, user, revert.token, payload.email), { class: "account" });
  if (undelivered) throw revertMailRefused(undelivered);

  await consumeOneTimeToken(deps, "email_change", token);
  let changed: User | undefined;
  try {
    ({ user: changed } = await changeCredentials(deps, {
      userId: user.id,
      set: { email: payload.email, emailVerified: true },
      whileEmail: user.email,
      bumpEpoch: true,
      keepSessionId: payload.sessionId ?? null,
      revokeSessionsReason: "email_changed",
      revokeApiKeys: "none",
      events: [
        { type: "user.email_changed", data: { user_id: user.id, email: payload.email, previous_email: user.email, reason: "changed" } },
      ],
      markers: [revert.marker],
    }));
  } catch (error) {
    if (isUniqueViolation(error, "users.email")) throw new AppError("email_taken", { detail: TAKEN });
    throw error;
  }
  // The account's address moved under us (another change finished first): nothing was changed,
  // and the revert link already mailed never became usable.
  if (!changed) throw invalidLink();
  await recordAudit(deps, { action: "email.changed", userId: user.id, resource: `user:${user.id}` });
}

/** The old address could not be told: nothing changes, and the confirmation link stays usable. */
function revertMailRefused(reason: Undelivered): AppError {
  const detail = "Your current address could not be sent the notice of this change. Nothing was changed; try the link again later.";
  return reason === "over_budget"
    ? new AppError("rate_limited", { detail, retryAfter: 3600 })
    : new AppError("service_unavailable", { detail, retryAfter: 60 });
}

/**
 * `POST /auth/revert-email-change`: the old address's "this wasn't me". Restores it, and treats the
 * account as taken over: every session and API key dies, the mailed links of the new address are
 * void, and so are the revert links of later changes (an older change's link stays: a phisher who
 * moved the account twice holds the second link), the current password is disabled (login answers
 * 401 like any wrong password), the address it leaves is told at once, and a reset link goes to the
 * restored address. 409 `email_taken` if another account took the old address meanwhile.
 */
export async function revertEmailChange(deps: Deps, token: string): Promise<void> {
  const payload = await peekOneTimeToken(deps, "email_revert", token);
  const user = await findUserById(deps.db, payload.userId);
  if (!user) throw invalidLink();
  const holder = await findUserByEmail(deps.db, payload.email);
  if (holder && holder.id !== user.id) throw new AppError("email_taken", { detail: TAKEN });

  await consumeOneTimeToken(deps, "email_revert", token);
  const later = (await outstandingTokens(deps, "email_revert", user.id)).filter((link) => link.payload.issuedAt > payload.issuedAt);
  const now = deps.now().getTime();
  try {
    await changeCredentials(deps, {
      userId: user.id,
      set: { email: payload.email, emailVerified: true, passwordHash: DISABLED_PASSWORD },
      bumpEpoch: true,
      // Factors enrolled since the change go with it; older ones stay.
      removeFactors: { since: new Date(payload.issuedAt) },
      revokeSessionsReason: "email_change_reverted",
      revokeApiKeys: "all",
      events: [
        { type: "user.email_changed", data: { user_id: user.id, email: payload.email, previous_email: user.email, reason: "reverted" } },
        { type: "session.revoked", data: { user_id: user.id, session_id: null, reason: "email_change_reverted" } },
      ],
      markers: [
        ...voidMarkers(user.id, VOIDED_BY_MAILBOX_PROOF, now),
        // A consumed row each: these links can never be used.
        ...later.map((link) => ({ key: link.hash, purpose: "email_revert_voided", at: now, expiresAt: link.expiresAt.getTime() })),
      ],
    });
  } catch (error) {
    if (isUniqueViolation(error, "users.email")) throw new AppError("email_taken", { detail: TAKEN });
    throw error;
  }
  await recordAudit(deps, {
    action: "email.change_reverted",
    userId: user.id,
    resource: `user:${user.id}`,
    metadata: { api_keys_revoked: true, later_revert_links_voided: later.length },
  });
  await sendSecurityNotice(deps, user.id, "email_change_reverted", { email: payload.email, locale: user.locale });
  // The address the account leaves is told at once: if the owner made the change, this is news.
  if (user.email !== payload.email) await sendSecurityNotice(deps, user.id, "email_change_reverted_away", user);
  // Issued after the batch voided older links, so this one is the newest and stays usable.
  deps.waitUntil(mailResetLink(deps, { id: user.id, email: payload.email, locale: user.locale }, { class: "account" }));
}

/** An undo link of an email change that is still usable, as the account page shows it. */
export interface OutstandingRevert {
  /** The address the link was sent to (the one the change left). */
  sentTo: string;
  /** The address the change moved the account to. */
  movedTo: string;
  expiresAt: string;
}

/**
 * The revert links of the account's email changes that can still be used: the owner sees that the
 * old address can still undo a change, and how to end that (a sign-in from a device known at least
 * 7 days before the change).
 */
export async function outstandingReverts(deps: Deps, userId: string): Promise<OutstandingRevert[]> {
  const links = await outstandingTokens(deps, "email_revert", userId);
  return links.map((link) => ({
    sentTo: link.payload.email,
    movedTo: link.payload.newEmail ?? "",
    expiresAt: link.expiresAt.toISOString(),
  }));
}
