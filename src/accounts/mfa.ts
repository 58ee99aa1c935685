import { auditRow } from "../audit/audit";
import {
  confirmTotp as confirmTotpWrite,
  factorsChanged,
  factorsUnchanged,
  findTotp,
  pendingTotpUpsert,
  noSecondFactor,
  readFactors,
  recoveryCodeSet,
  stillPending,
} from "../db/factors";
import { totpFactors, type User } from "../db/schema";
import { countPasskeys } from "../db/passkeys";
import { eq, sql } from "drizzle-orm";
import { AppError } from "../errors";
import { eventRows } from "../events/events";
import { newRecoveryCodes, recoveryCodeHash } from "../factors/recovery-codes";
import { proveSecondFactor } from "../factors/second-factor";
import { base32Secret, newTotpSecret, otpauthUri } from "../factors/totp";
import type { Deps } from "../kernel/deps";
import { unwrapSecret, wrappingFor, wrapSecret } from "../kernel/key-wrapping";
import { issueOneTimeToken } from "../kernel/one-time-tokens";
import { sendMail } from "../mail/mail";
import { sendSecurityNotice } from "../mail/notices";
import { enrolmentNoticeMail } from "../mail/templates";
import { assertFreshAuthentication, type FreshnessOf } from "./fresh-auth";
import { assertSecondFactorLeft, mfaRequiredFor } from "../factors/mfa-policy";
import { enrolmentProof, mailboxCodeRequired, noResetPending } from "./enrolment-proof";

/**
 * `/users/me/mfa`: the account's second factors. Every change needs fresh authentication (for an
 * account that already has a second factor, one proved with it), moves the factors epoch (an
 * outstanding `mfa_token` dies), is audited, and is told to the owner; enabling one mails a notice
 * whose link undoes it (hostile enrolment: sign-in-revert.ts).
 */

export interface MfaStatus {
  totp: { enabled: boolean; created_at: string | null };
  passkeys: number;
  recovery_codes_remaining: number;
  /** `MFA_REQUIRED` applies to the account: it must keep a second factor. */
  required: boolean;
  /** An administrator reset the factors: the next enrolment needs the mailed code (`email_code`). */
  email_code_required: boolean;
}

export async function mfaStatus(deps: Deps, user: User): Promise<MfaStatus> {
  const { totp, recoveryCodesRemaining } = await readFactors(deps.db, user.id);
  const enabled = Boolean(totp?.confirmedAt);
  return {
    totp: { enabled, created_at: enabled && totp?.confirmedAt ? totp.confirmedAt.toISOString() : null },
    passkeys: await countPasskeys(deps.db, user.id),
    recovery_codes_remaining: user.secondFactors.length > 0 ? recoveryCodesRemaining : 0,
    required: mfaRequiredFor(deps.config, user),
    email_code_required: user.mfaResetAt !== null,
  };
}

export interface TotpEnrolment {
  secret: string;
  otpauth_uri: string;
}

/**
 * `POST /users/me/mfa/totp`: a new pending secret (any earlier pending one is replaced). Also open
 * to an enrolment token; after an administrator's reset it needs the mailed `email_code`.
 */
export async function startTotp(deps: Deps, caller: FreshnessOf, emailCode?: string): Promise<TotpEnrolment> {
  assertFreshAuthentication(deps, caller, { enrolment: "allowed" });
  const { user } = caller;
  if (user.secondFactors.includes("totp")) throw new AppError("mfa_already_enabled");
  const wrapping = wrappingFor({ secret: deps.config.signingKeyEncryptionSecret, devMode: deps.config.devOutbox });
  if (!wrapping) {
    throw new AppError("service_unavailable", { detail: "Authenticator apps need SIGNING_KEY_ENCRYPTION_SECRET to store their secrets." });
  }
  const proof = await enrolmentProof(deps, user, emailCode);
  const secret = newTotpSecret();
  const now = deps.now();
  const work = deps.work();
  if (proof === "none") work.fence(noResetPending(user.id));
  const committed = await work
    .addAll([pendingTotpUpsert(deps.db, user.id, await wrapSecret(secret, user.id, wrapping), now)])
    .audit(auditRow(deps, { action: "mfa.totp_started", userId: user.id, resource: `user:${user.id}` }))
    .commit();
  // An administrator reset the factors in the meantime.
  if (!committed.committed) return mailboxCodeRequired(deps, user);
  const uri = otpauthUri(deps.config.branding.productName, user.email, secret);
  return { secret: base32Secret(uri), otpauth_uri: uri };
}

/** The pending enrolment's URI again (the page shows its QR code until it is confirmed), or null. */
export async function pendingTotpUri(deps: Deps, user: User): Promise<string | null> {
  const pending = await findTotp(deps.db, user.id);
  if (!pending || pending.confirmedAt) return null;
  const secret = await unwrapSecret(pending.secret, user.id, deps.config.signingKeyEncryptionSecret);
  return secret ? otpauthUri(deps.config.branding.productName, user.email, secret) : null;
}

/**
 * `POST /users/me/mfa/totp/confirm`: a code of the pending secret enables it (its step counts as
 * used: it can never sign in). The account's first second factor comes with recovery codes, shown
 * this once. Confirming is not itself a proof of a second factor for fresh authentication.
 */
export async function confirmTotp(deps: Deps, caller: FreshnessOf, code: string): Promise<{ recovery_codes?: string[] }> {
  assertFreshAuthentication(deps, caller, { enrolment: "allowed" });
  const { user } = caller;
  const pending = await findTotp(deps.db, user.id);
  if (!pending || pending.confirmedAt) {
    throw new AppError("not_found", { detail: "No authenticator app is waiting for confirmation: start with POST /users/me/mfa/totp." });
  }
  const secret = await unwrapSecret(pending.secret, user.id, deps.config.signingKeyEncryptionSecret);
  if (!secret) throw new AppError("not_found", { detail: "The pending authenticator app cannot be read: start again." });
  await proveSecondFactor(
    deps,
    user,
    { method: "totp", code },
    { answerer: { kind: "session", id: caller.sessionId }, pendingSecret: secret },
  );

  const now = deps.now();
  const firstFactor = user.secondFactors.length === 0;
  const codes = firstFactor ? newRecoveryCodes() : null;
  const work = deps
    .work()
    .fence(
      caller.enrolment
        ? sql`${stillPending(user.id, pending.secret)} AND ${noSecondFactor(user.id)}`
        : stillPending(user.id, pending.secret),
    )
    .addAll([
      confirmTotpWrite(deps.db, user.id, now),
      factorsChanged(deps.db, user.id, [...new Set([...user.secondFactors, "totp"])], now, { enrolled: true }),
    ]);
  if (codes) work.addAll(recoveryCodeSet(deps.db, user.id, await hashes(codes), now));
  work
    .audit(auditRow(deps, { action: "mfa.enabled", userId: user.id, resource: `user:${user.id}`, metadata: { method: "totp" } }))
    .events(eventRows(deps, [{ type: "user.mfa_enabled", data: { user_id: user.id, method: "totp" } }]));
  if (!(await work.commit()).committed) throw new AppError("not_found", { detail: "The pending authenticator app changed: start again." });
  await mailEnrolmentNotice(deps, user, "totp", pending.createdAt);
  return codes ? { recovery_codes: codes } : {};
}

/** `DELETE /users/me/mfa/totp`: with the last second factor, the recovery codes go too. */
export async function disableTotp(deps: Deps, caller: FreshnessOf): Promise<void> {
  assertFreshAuthentication(deps, caller);
  const { user } = caller;
  if (!user.secondFactors.includes("totp")) throw new AppError("not_found", { detail: "No authenticator app is enabled." });
  const left = user.secondFactors.filter((m) => m !== "totp");
  assertSecondFactorLeft(deps.config, user, left);
  const now = deps.now();
  const work = deps
    .work()
    .fence(factorsUnchanged(user.id, user.factorsEpoch))
    .addAll([deps.db.delete(totpFactors).where(eq(totpFactors.userId, user.id)), factorsChanged(deps.db, user.id, left, now)]);
  if (left.length === 0) work.addAll(recoveryCodeSet(deps.db, user.id, [], now));
  work
    .audit(auditRow(deps, { action: "mfa.disabled", userId: user.id, resource: `user:${user.id}`, metadata: { method: "totp" } }))
    .events(eventRows(deps, [{ type: "user.mfa_disabled", data: { user_id: user.id, method: "totp" } }]));
  if (!(await work.commit()).committed)
    throw new AppError("reauthentication_required", { detail: "The account's factors changed: step up again." });
  await sendSecurityNotice(deps, user.id, "mfa_disabled", user);
}

/** `POST /users/me/mfa/recovery-codes`: a new set; the old one dies (and so does any outstanding `mfa_token`). */
export async function regenerateRecoveryCodes(deps: Deps, caller: FreshnessOf): Promise<{ recovery_codes: string[] }> {
  assertFreshAuthentication(deps, caller);
  const { user } = caller;
  if (user.secondFactors.length === 0)
    throw new AppError("not_found", { detail: "Recovery codes come with a second factor: enable one first." });
  const now = deps.now();
  const codes = newRecoveryCodes();
  const committed = await deps
    .work()
    .fence(factorsUnchanged(user.id, user.factorsEpoch))
    .addAll([...recoveryCodeSet(deps.db, user.id, await hashes(codes), now), factorsChanged(deps.db, user.id, user.secondFactors, now)])
    .audit(auditRow(deps, { action: "mfa.recovery_codes_regenerated", userId: user.id, resource: `user:${user.id}` }))
    .commit();
  if (!committed.committed) throw new AppError("reauthentication_required", { detail: "The account's factors changed: step up again." });
  await sendSecurityNotice(deps, user.id, "recovery_codes_regenerated", user);
  return { recovery_codes: codes };
}

async function hashes(codes: string[]): Promise<string[]> {
  return Promise.all(codes.map(async (code) => (await recoveryCodeHash(code))!));
}

/**
 * The enrolment notice (an authenticator app or a passkey) to the account's address: its link (a sign-in revert token, 7 days, single
 * use) removes every factor enrolled since `since` and then secures the account like the sign-in
 * revert. A factor someone else enrolled with the password is undone by the mailbox's owner.
 */
export async function mailEnrolmentNotice(deps: Deps, user: User, factor: "totp" | "passkey", since: Date): Promise<void> {
  const token = await issueOneTimeToken(deps, "signin_revert", { userId: user.id, email: user.email, since: since.getTime() });
  sendMail(deps, enrolmentNoticeMail(deps, user, token, { factor, ip: deps.meta.ip, time: deps.now() }), { class: "account" });
}
