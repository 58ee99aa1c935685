import type { User } from "../db/schema";
import { leavesAnActiveSuperuser } from "../db/admin-users";
import { findUserById, tombstone } from "../db/users";
import { AppError } from "../errors";
import { guardGuess, guessRefusal } from "../abuse/guess-guard";
import { hashNewPassword } from "./new-password";
import { DISABLED_PASSWORD, passwordParams } from "./passwords";
import { assertFreshAuthentication, type FreshnessOf } from "./fresh-auth";
import { auditRow, recordAudit } from "../audit/audit";
import type { Deps } from "../kernel/deps";
import { sendSecurityNotice } from "../mail/notices";
import { voidMarkers } from "../kernel/one-time-tokens";
import { verifyPassword } from "./passwords";
import { changeCredentials, keyNames } from "../sessions/credential-change";
import { deleteSignInProfiles } from "../devices/erasure";
import { forgiveStrangers } from "../factors/second-factor";

/**
 * Credential changes made by a signed-in user: password change and account deletion. Both need
 * the current password, so a stolen access token alone cannot take over or destroy the account.
 */

/**
 * Throws `invalid_current_password` (400) unless `password` is the user's current password. The
 * check is a guarded guess of the caller's own session (see abuse/guess-guard.ts): a lock that
 * strangers caused on the address never blocks the signed-in owner, while a stolen access token
 * still cannot brute-force the password: 5 wrong tries lock that session's checks for 30 minutes,
 * 10 for good (423; see sessionLockout in config/rate-limits.ts), and the owner is told when a lock
 * begins. Every wrong password writes a `password.check_failed` audit row naming the session.
 */
export async function assertCurrentPassword(deps: Deps, caller: { user: User; sessionId: string }, password: string): Promise<void> {
  const { user, sessionId } = caller;
  const guessed = await guardGuess(deps, { identifier: { email: user.email }, guesser: { kind: "session", id: sessionId } }, async () => ({
    success: (await verifyPassword(password, user.passwordHash, passwordParams(deps))).valid,
    userId: user.id,
  }));
  if (guessed.status === "locked" && guessed.tier === "hard") {
    throw new AppError("account_locked", { detail: "Too many wrong passwords in this session. Sign in again to continue." });
  }
  if (guessed.status !== "checked") throw guessRefusal(guessed);
  if (guessed.outcome.success) return;
  await deps
    .work()
    .audit(
      auditRow(deps, {
        action: "password.check_failed",
        userId: user.id,
        resource: `session:${sessionId}`,
        metadata: { session_id: sessionId },
      }),
    )
    .commit();
  throw new AppError("invalid_current_password");
}

/**
 * The checks of a sensitive action (password, address, deletion): fresh authentication (see
 * fresh-auth.ts), then the current password in the body. An account without a usable password
 * (disabled by a revert; later, one that signs in only with a passkey or a provider) has none to
 * give: for it, fresh authentication is the whole proof (API.md v1.2).
 */
export async function assertSensitive(deps: Deps, caller: FreshnessOf, password: string | undefined, field: string): Promise<void> {
  assertFreshAuthentication(deps, caller);
  if (caller.user.passwordHash === DISABLED_PASSWORD) return;
  if (password === undefined) {
    throw new AppError("validation_failed", {
      errors: [{ field, message: "Enter your current password.", reason: { key: `fields.${field}.invalid` } }],
    });
  }
  await assertCurrentPassword(deps, caller, password);
}

/**
 * `PATCH /users/me/password`: new password under the policy. In one D1 batch: the hash, the
 * credentials epoch (every other session dies; the caller's moves along and counts as freshly
 * authenticated), API keys not created by the caller's session, and outstanding reset links. The
 * notice names the keys that died.
 */
export async function changePassword(
  deps: Deps,
  caller: FreshnessOf,
  input: { current_password?: string | undefined; new_password: string },
): Promise<void> {
  const { user } = caller;
  await assertSensitive(deps, caller, input.current_password, "current_password");
  const passwordHash = await hashNewPassword(deps, user, input.new_password);
  const { revokedSessionIds, revokedApiKeys } = await changeCredentials(deps, {
    userId: user.id,
    set: { passwordHash },
    bumpEpoch: true,
    keepSessionId: caller.sessionId,
    reauthenticated: true,
    revokeSessionsReason: "password_changed",
    revokeApiKeys: "not_kept_session",
    // A reset link requested before the change (perhaps by whoever knew the old password) is void.
    markers: voidMarkers(user.id, ["reset", "email_change"], deps.now().getTime()),
  });
  await forgiveStrangers(deps, user.id);
  await recordAudit(deps, {
    action: "password.changed",
    userId: user.id,
    metadata: { sessions_revoked: revokedSessionIds.length, api_keys_revoked: revokedApiKeys.map((k) => k.id) },
  });
  await sendSecurityNotice(deps, user.id, "password_changed", user, keyNames(revokedApiKeys));
}

/**
 * `DELETE /users/me`: the account can no longer log in, every session, access token and API key
 * dies and the address is free again. The row stays as a tombstone for the audit trail; its hash
 * and personal fields, its device rows, its KV sign-in profile and the IP addresses and user agents
 * of its audit rows are erased at once, or after ACCOUNT_ERASURE_GRACE_DAYS by the daily clean-up. The last active superuser cannot delete their account (409 `last_superuser`): that is a
 * condition of the deletion's own batch, so no parallel deletion or deactivation of another
 * superuser slips past it.
 */
export async function deleteAccount(deps: Deps, caller: FreshnessOf, password: string | undefined): Promise<void> {
  const { user } = caller;
  await assertSensitive(deps, caller, password, "password");
  const now = deps.now();
  const eraseNow = deps.config.erasureGraceDays === 0;
  const deleted = await changeCredentials(deps, {
    userId: user.id,
    set: { deletedAt: now, isActive: false, ...(eraseNow ? tombstone(user.id, now) : {}) },
    bumpEpoch: true,
    revokeSessionsReason: "account_deleted",
    // Its factors go with it (a passkey's credential id, say, is free again).
    removeFactors: { since: null },
    revokeApiKeys: "all",
    onlyIf: leavesAnActiveSuperuser(user.id),
    events: [{ type: "user.deleted", data: { user_id: user.id, reason: "deleted_by_user" } }],
    markers: voidMarkers(user.id, ["verify", "reset", "email_change", "email_revert"], now.getTime()),
    audit: { action: "user.deleted", userId: user.id, countRevokedSessionsAs: "sessions_revoked" },
    eraseTraces: eraseNow,
  });
  // The KV half of the erasure (the daily clean-up does both after a grace period).
  if (deleted.user && eraseNow) await deleteSignInProfiles(deps.kv, [user.id]);
  // Nothing written: the account is gone already (a parallel deletion won), or it is the last active superuser.
  if (!deleted.user && (await findUserById(deps.db, user.id))) {
    throw new AppError("last_superuser", { detail: "This is the last active superuser: make someone else a superuser first." });
  }
}
