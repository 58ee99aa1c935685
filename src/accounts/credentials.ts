import { and, eq, isNull } from "drizzle-orm";
import { apiKeys, type User } from "../db/schema";
import { updateUser } from "../db/users";
import { AppError } from "../errors";
import { guardPasswordCheck } from "../abuse/limits";
import { passwordParams } from "./passwords";
import { recordAudit } from "../audit/audit";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../mail/notices";
import { voidOneTimeTokens } from "../recovery/one-time-tokens";
import { hashPassword, verifyPassword } from "./passwords";
import { assertStrongPassword } from "./password-policy";
import { revokeAllSessions } from "../sessions/sessions";

/**
 * Credential changes made by a signed-in user: password change and account deletion. Both need
 * the current password, so a stolen access token alone cannot take over or destroy the account.
 */

/**
 * Throws `invalid_current_password` (400) unless `password` is the user's current password. The
 * check is a guess like a login: admitted by the account's limiter first (423 while locked), and
 * a wrong password counts toward the lockout, so a stolen access token cannot brute-force it.
 */
export async function assertCurrentPassword(deps: Deps, user: User, password: string): Promise<void> {
  const { success } = await guardPasswordCheck(deps, { email: user.email }, async () => ({
    success: (await verifyPassword(password, user.passwordHash, passwordParams(deps))).valid,
    userId: user.id,
  }));
  if (!success) throw new AppError("invalid_current_password");
}

/**
 * `PATCH /users/me/password`: new password under the policy, the caller's session survives and
 * every other session (and its access tokens) is revoked.
 */
export async function changePassword(
  deps: Deps,
  user: User,
  currentSessionId: string,
  input: { current_password: string; new_password: string },
): Promise<void> {
  await assertCurrentPassword(deps, user, input.current_password);
  assertStrongPassword(
    input.new_password,
    { email: user.email, username: user.username, fullName: user.fullName },
    deps.config,
    "new_password",
  );
  const passwordHash = await hashPassword(input.new_password, passwordParams(deps));
  await updateUser(deps.db, user.id, { passwordHash, updatedAt: deps.now() });
  const revoked = await revokeAllSessions(deps, user.id, "password_changed", currentSessionId);
  // An email change requested with the old password may be the attacker's: it must not complete.
  await voidOneTimeTokens(deps, "email_change", user.id);
  await recordAudit(deps, { action: "password.changed", userId: user.id, metadata: { sessions_revoked: revoked.length } });
  await sendSecurityNotice(deps, user.id, "password_changed", user.email);
}

/**
 * `DELETE /users/me`: soft delete. The row stays for the audit trail, but the account can no
 * longer log in, every session, access token and API key dies, and the address is free again.
 */
export async function deleteAccount(deps: Deps, user: User, password: string): Promise<void> {
  await assertCurrentPassword(deps, user, password);
  const now = deps.now();
  await updateUser(deps.db, user.id, { deletedAt: now, isActive: false, updatedAt: now });
  await deps.db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.userId, user.id), isNull(apiKeys.revokedAt)));
  const revoked = await revokeAllSessions(deps, user.id, "account_deleted");
  await recordAudit(deps, { action: "user.deleted", userId: user.id, metadata: { sessions_revoked: revoked.length } });
}
