import { clearLockout } from "../abuse/lockout-admin";
import { enforceAccountLimit, enforceDeviceLimit } from "../abuse/request-limits";
import { recognizeDevice } from "../devices/devices";
import { findUserByEmail, findUserById } from "../db/users";
import { describeError, log } from "../log";
import { recordAudit } from "../audit/audit";
import { afterResponse, type Deps } from "../kernel/deps";
import { firstProofClears, firstProofRemoves, VOIDED_BY_MAILBOX_PROOF } from "./first-proof";
import { mailToken, type MailTrigger, type Undelivered } from "../mail/mail";
import type { User } from "../db/schema";
import { passwordResetMail } from "../mail/templates";
import { sendSecurityNotice } from "../mail/notices";
import {
  consumeOneTimeToken,
  hasLiveToken,
  invalidLink,
  issueOneTimeToken,
  peekOneTimeToken,
  voidMarkers,
} from "../kernel/one-time-tokens";
import { hashNewPassword } from "../accounts/new-password";
import { changeCredentials, keyNames } from "../sessions/credential-change";
import { forgiveStrangers } from "../factors/second-factor";

/**
 * Password recovery. `POST /auth/forgot-password` counts the request against the address's own
 * limit (kept for unknown addresses alike), then answers before it looks anything up: the lookup,
 * the token and the mail start after the response has gone out (`afterResponse`), so the answer is
 * the same bytes and takes the same time whether or not the address has an account, and a mail
 * failure cannot show through.
 */
export async function requestPasswordReset(deps: Deps, email: string, deviceToken: string | undefined): Promise<void> {
  // Only a request that carries a device token looks the address up before answering; for it,
  // known and unknown addresses cost the same single read.
  const device = deviceToken ? await recognizeDevice(deps, await findUserByEmail(deps.db, email), deviceToken) : null;
  if (device) await enforceDeviceLimit(deps, device.id, "forgot_password");
  else await enforceAccountLimit(deps, "forgot_password", { email });
  afterResponse(deps, () => answerResetRequest(deps, email, device !== null));
}

/**
 * A stranger's request never replaces a live link (a newer one would void the owner's): while one
 * is live it sends nothing. The owner's known device gets a fresh link, which voids older ones, from
 * the budget reserved for the account's known devices.
 */
async function answerResetRequest(deps: Deps, email: string, fromKnownDevice: boolean): Promise<void> {
  try {
    const user = await findUserByEmail(deps.db, email);
    if (!user || !user.isActive) return;
    if (!fromKnownDevice && (await hasLiveToken(deps, "reset", user.id))) return;
    const undelivered = await mailResetLink(deps, user, { class: fromKnownDevice ? "device" : "stranger" });
    if (undelivered) return;
    await recordAudit(deps, { action: "password.reset_requested", userId: user.id, resource: `user:${user.id}` });
  } catch (error) {
    log("error", "password_reset.request_failed", { request_id: deps.meta.requestId, ...describeError(error) });
  }
}

/**
 * Mails `user` a fresh reset link within `trigger`'s budget. The token is issued only once the
 * budget admitted its mail: issuing supersedes every older reset token of the user (see
 * one-time-tokens.ts), so a link nobody receives must never exist, and a live token always means a
 * mail on its way. Never throws; says why the mail did not go out.
 */
export function mailResetLink(deps: Deps, user: Pick<User, "id" | "email" | "locale">, trigger: MailTrigger): Promise<Undelivered | null> {
  return mailToken(deps, user.email, "password_reset", trigger, async () =>
    passwordResetMail(deps, user, await issueOneTimeToken(deps, "reset", { userId: user.id, email: user.email })),
  );
}
export interface ResetPasswordInput {
  token: string;
  new_password: string;
}

/**
 * `POST /auth/reset-password`. The policy is checked before the token is consumed, so a weak
 * password leaves the link usable. Afterwards every session and access token of the account is
 * dead and nobody is logged in: the user logs in afresh with the new password.
 */
export async function resetPassword(deps: Deps, input: ResetPasswordInput): Promise<void> {
  const payload = await peekOneTimeToken(deps, "reset", input.token);
  const user = await findUserById(deps.db, payload.userId);
  // The link was mailed to one address: once the account has moved to another, it is void.
  if (!user || !user.isActive || user.email !== payload.email) throw invalidLink();
  const passwordHash = await hashNewPassword(deps, user, input.new_password);
  await consumeOneTimeToken(deps, "reset", input.token);
  // Opening the link proved control of the address, so it counts as verified. Everything minted
  // before it dies: sessions (by the epoch), API keys, and the other mailed links (not the revert
  // links of email changes); a first proof also clears a squatter's username and name.
  const { revokedApiKeys } = await changeCredentials(deps, {
    userId: user.id,
    set: { passwordHash, emailVerified: true, ...firstProofClears(user) },
    ...firstProofRemoves(user),
    bumpEpoch: true,
    revokeSessionsReason: "password_reset",
    revokeApiKeys: "all",
    markers: voidMarkers(user.id, VOIDED_BY_MAILBOX_PROOF, deps.now().getTime()),
  });
  // Whoever can read the mailbox is the owner: lift the lockout, including the hard tier.
  await clearLockout(deps, user, "password_reset");
  await forgiveStrangers(deps, user.id);
  await recordAudit(deps, {
    action: "password.reset",
    userId: user.id,
    resource: `user:${user.id}`,
    metadata: { api_keys_revoked: revokedApiKeys.map((k) => k.id) },
  });
  await sendSecurityNotice(deps, user.id, "password_reset", user, keyNames(revokedApiKeys));
}
