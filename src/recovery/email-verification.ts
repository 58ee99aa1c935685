import { guardGuess, guessRefusal } from "../abuse/guess-guard";
import { clearLockout } from "../abuse/lockout-admin";
import { forgiveStrangers } from "../factors/second-factor";
import { enforceAccountLimit, enforceDeviceLimit } from "../abuse/request-limits";
import { recognizeDevice } from "../devices/devices";
import { hashNewPassword } from "../accounts/new-password";
import { passwordParams, verifyPassword } from "../accounts/passwords";
import type { User } from "../db/schema";
import { AppError } from "../errors";
import { sendSecurityNotice } from "../mail/notices";
import { changeCredentials, keyNames } from "../sessions/credential-change";
import { findUserByEmail, findUserById, markEmailVerified } from "../db/users";
import { describeError, log } from "../log";
import { sendVerificationMail } from "../accounts/registration";
import { recordAudit } from "../audit/audit";
import { emitEvents } from "../events/events";
import { afterResponse, type Deps } from "../kernel/deps";
import { confirmEmailChange } from "./email-change";
import { consumeOneTimeToken, findOneTimeToken, invalidLink, voidMarkers } from "../kernel/one-time-tokens";
import { firstProofClears, firstProofRemoves, VOIDED_BY_MAILBOX_PROOF } from "./first-proof";

/** How a registration token's confirmer proves the account's password (the HTTP contract). */
export interface VerificationProof {
  /** The password chosen at registration. */
  password?: string | undefined;
  /** A new password that replaces it: a reset through the mailbox, so everything earlier dies. */
  newPassword?: string | undefined;
  /** The account's own signed-in session (a bearer access token of the same user). */
  callerUserId?: string | undefined;
}

export type ConfirmOutcome = "verified" | "verified_new_password" | "changed";

/**
 * `GET|POST /auth/verify-email`: one endpoint for both kinds of mailed address links. The token's
 * purpose is found by looking it up under both prefixes in one bulk KV read, so tokens carry no
 * visible type and a reset token is never accepted here.
 *
 * A registration token proves the mailbox only. Someone else may have registered the address with a
 * password of their choosing, so the account becomes verified only when the confirmer also proves
 * the password (or a session of the account), or replaces it with `newPassword`; otherwise 400
 * `password_required` and the link stays usable.
 */
export async function confirmEmailToken(deps: Deps, token: string, proof: VerificationProof): Promise<ConfirmOutcome> {
  const { purpose, payload } = await findOneTimeToken(deps, ["verify", "email_change"], token);
  if (purpose === "email_change") {
    await confirmEmailChange(deps, token, payload);
    return "changed";
  }
  const user = await findUserById(deps.db, payload.userId);
  // Bound to the address it was mailed to: after an email change an old link verifies nothing.
  if (!user || !user.isActive || user.email !== payload.email) throw invalidLink();
  if (proof.newPassword !== undefined) {
    await verifyWithNewPassword(deps, token, user, proof.newPassword);
    return "verified_new_password";
  }
  if (proof.callerUserId !== user.id) {
    if (proof.password === undefined) throw new AppError("password_required");
    const password = proof.password;
    const guessed = await guardGuess(deps, { identifier: { email: user.email }, guesser: { kind: "stranger" } }, async () => ({
      success: (await verifyPassword(password, user.passwordHash, passwordParams(deps))).valid,
      userId: user.id,
    }));
    if (guessed.status !== "checked") throw guessRefusal(guessed);
    if (!guessed.outcome.success) {
      throw new AppError("invalid_credentials", {
        detail: "This is not the account's password. Enter the password chosen at registration, or set a new one.",
      });
    }
  }
  await consumeOneTimeToken(deps, "verify", token);
  const updated = await markEmailVerified(deps.db, user.id, payload.email, deps.now());
  if (!updated) throw invalidLink();
  if (!user.emailVerified) {
    await recordAudit(deps, { action: "email.verified", userId: user.id, resource: `user:${user.id}` });
    await emitEvents(deps, [{ type: "user.verified", data: { user_id: user.id, email: updated.email } }]);
  }
  return "verified";
}

/**
 * The mailbox owner sets the password while confirming: like a reset, every session, API key and
 * mailed link of the account dies, and nobody is signed in.
 */
async function verifyWithNewPassword(deps: Deps, token: string, user: User, newPassword: string): Promise<void> {
  const passwordHash = await hashNewPassword(deps, user, newPassword);
  await consumeOneTimeToken(deps, "verify", token);
  const { revokedApiKeys } = await changeCredentials(deps, {
    userId: user.id,
    set: { passwordHash, emailVerified: true, ...firstProofClears(user) },
    ...firstProofRemoves(user),
    whileEmail: user.email,
    bumpEpoch: true,
    revokeSessionsReason: "password_set_at_verification",
    revokeApiKeys: "all",
    events: user.emailVerified ? [] : [{ type: "user.verified", data: { user_id: user.id, email: user.email } }],
    markers: voidMarkers(user.id, VOIDED_BY_MAILBOX_PROOF, deps.now().getTime()),
  });
  await clearLockout(deps, user, "password_reset");
  await forgiveStrangers(deps, user.id);
  await recordAudit(deps, { action: "email.verified", userId: user.id, resource: `user:${user.id}`, metadata: { password_set: true } });
  await sendSecurityNotice(deps, user.id, "password_set_at_verification", user, keyNames(revokedApiKeys));
}

/**
 * `POST /auth/resend-verification`: the same answer for every address; only an existing, active,
 * unverified account gets a new link, after the response.
 */
export async function resendVerification(deps: Deps, email: string, deviceToken: string | undefined): Promise<void> {
  const device = deviceToken ? await recognizeDevice(deps, await findUserByEmail(deps.db, email), deviceToken) : null;
  if (device) await enforceDeviceLimit(deps, device.id, "resend_verification");
  else await enforceAccountLimit(deps, "resend_verification", { email });
  // Started once the answer has gone out, so an address with an account is not slower to answer.
  afterResponse(deps, async () => {
    try {
      const user = await findUserByEmail(deps.db, email);
      if (!user || !user.isActive || user.emailVerified) return;
      await sendVerificationMail(deps, user, device ? "device" : "stranger");
    } catch (error) {
      log("error", "verification.resend_failed", { request_id: deps.meta.requestId, ...describeError(error) });
    }
  });
}
