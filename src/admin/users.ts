import { inspectLockout, type LockView } from "../abuse/lockout-admin";
import { DISABLED_PASSWORD } from "../accounts/passwords";
import { toUserResponse, type UserResponse } from "../kernel/user-response";
import { listApiKeys, type ApiKeyResponse } from "../api-keys/api-keys";
import { auditRow, type AuditAction, type AuditEntry } from "../audit/audit";
import { listSecurityEvents, type SecurityEvent } from "../audit/security-events";
import { leavesAnActiveSuperuser, listUsersPage, superuserChangeAllowed, superuserUpdate, type UserStatus } from "../db/admin-users";
import { users, type User } from "../db/schema";
import { factorRemoval } from "../db/factors";
import { sql } from "drizzle-orm";
import { mfaStatus, type MfaStatus } from "../accounts/mfa";
import { sendSecurityNotice } from "../mail/notices";
import { findUserById, userUpdate } from "../db/users";
import type { Committed } from "../db/unit-of-work";
import type { Deps } from "../kernel/deps";
import { listDevices, type DeviceView } from "../devices/devices";
import { AppError } from "../errors";
import { decodeCursor, toPage } from "../pagination";
import { voidMarkers } from "../kernel/one-time-tokens";
import { mailResetLink } from "../recovery/password-reset";
import { changeCredentials } from "../sessions/credential-change";
import { listSessions, revokeSessions, type SessionView } from "../sessions/sessions";
import { eventRows } from "../events/events";

/**
 * Administration of users (superusers only; the routes check that). Every action writes an audit
 * row naming the acting administrator; the user's own security log shows "administrator" without
 * the operator's IP (audit/security-events.ts).
 */

export type AdminUserView = UserResponse & {
  is_superuser: boolean;
  roles: string[];
  deactivated_at: string | null;
  /** The second factors the user has turned on (`totp`); empty: the password alone signs in. */
  second_factors: string[];
};

function toAdminUserView(user: User): AdminUserView {
  return {
    ...toUserResponse(user),
    is_superuser: user.isSuperuser,
    roles: user.roles,
    deactivated_at: user.deactivatedAt?.toISOString() ?? null,
    second_factors: user.secondFactors,
  };
}

export interface UserListQuery {
  query?: string | undefined;
  status?: UserStatus | "locked" | undefined;
  mfa?: "enrolled" | "none" | undefined;
  created_after?: string | undefined;
  created_before?: string | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

/** Candidates inspected per request when filtering on `locked` (each costs a Durable Object call). */
const LOCKED_SCAN_LIMIT = 200;

/**
 * `GET /admin/users`: newest first, keyset-paged. `status=locked` asks each candidate's lockout
 * object, so one request scans at most LOCKED_SCAN_LIMIT accounts and the cursor continues the scan.
 */
export async function listUsers(deps: Deps, q: UserListQuery): Promise<{ users: AdminUserView[]; next_cursor: string | null }> {
  const limit = q.limit ?? 50;
  const base = {
    query: q.query,
    status: q.status === "locked" ? undefined : q.status,
    mfa: q.mfa,
    createdAfter: q.created_after ? new Date(q.created_after) : undefined,
    createdBefore: q.created_before ? new Date(q.created_before) : undefined,
    after: q.cursor ? decodeCursor(q.cursor) : null,
  };
  if (q.status !== "locked") {
    const { page, nextCursor } = toPage(await listUsersPage(deps.db, base, limit + 1), limit);
    return { users: page.map(toAdminUserView), next_cursor: nextCursor };
  }
  const candidates = await listUsersPage(deps.db, base, LOCKED_SCAN_LIMIT);
  const locks = await Promise.all(candidates.map((user) => inspectLockout(deps, user)));
  const locked = candidates.filter((_, i) => locks[i]!.locked);
  const page = locked.slice(0, limit);
  // Continue after the last row returned, or after the last row scanned when the scan ran dry.
  const last = locked.length > limit ? page.at(-1) : candidates.length === LOCKED_SCAN_LIMIT ? candidates.at(-1) : undefined;
  return { users: page.map(toAdminUserView), next_cursor: last ? toPage([last, last], 1).nextCursor : null };
}

export interface AdminUserDetails {
  user: AdminUserView;
  sessions: SessionView[];
  api_keys: ApiKeyResponse[];
  devices: DeviceView[];
  lock: LockView;
  recent_events: SecurityEvent[];
  mfa: MfaStatus;
}

/** `GET /admin/users/{id}`: profile, live sessions, keys (no secrets), devices, lock state, recent events. */
export async function userDetails(deps: Deps, id: string): Promise<AdminUserDetails> {
  const user = await requireUser(deps, id);
  const [sessions, apiKeys, devices, lock, events, mfa] = await Promise.all([
    listSessions(deps, user.id, null, { limit: 100 }),
    listApiKeys(deps, user),
    listDevices(deps, user),
    inspectLockout(deps, user),
    listSecurityEvents(deps, user.id, { limit: 20 }),
    mfaStatus(deps, user),
  ]);
  return {
    user: toAdminUserView(user),
    sessions: sessions.sessions,
    api_keys: apiKeys,
    devices,
    lock,
    recent_events: events.events,
    mfa,
  };
}

/**
 * Deactivation: reversible, but every session, access token, API key and mailed link dies at once
 * (one D1 batch through the credentials epoch), as for deletion. The last active superuser cannot
 * be deactivated: that condition is part of the batch's fence, so of two superusers deactivating
 * each other at the same moment exactly one succeeds (409 `last_superuser` for the other).
 */
export async function deactivateUser(deps: Deps, actorUserId: string, id: string): Promise<void> {
  const user = await requireUser(deps, id);
  const now = deps.now();
  const changed = await changeCredentials(deps, {
    userId: user.id,
    set: { isActive: false, deactivatedAt: now },
    bumpEpoch: true,
    revokeSessionsReason: "deactivated",
    revokeApiKeys: "all",
    onlyIf: leavesAnActiveSuperuser(user.id),
    events: [{ type: "user.deactivated", data: { user_id: user.id, reason: "deactivated_by_admin" } }],
    markers: voidMarkers(user.id, ["verify", "reset", "email_change", "email_revert"], now.getTime()),
    audit: {
      ...adminEntry("user.deactivated", actorUserId, user),
      countRevokedSessionsAs: "sessions_revoked",
      countRevokedApiKeysAs: "api_keys_revoked",
    },
  });
  if (!changed.user) {
    await requireUser(deps, id);
    throw new AppError("last_superuser", { detail: "The last active superuser cannot be deactivated." });
  }
}

export async function reactivateUser(deps: Deps, actorUserId: string, id: string): Promise<void> {
  const user = await requireUser(deps, id);
  await deps
    .work()
    .addAll([userUpdate(deps.db, user.id, { isActive: true, deactivatedAt: null, updatedAt: deps.now() })])
    .audit(auditRow(deps, adminEntry("user.reactivated", actorUserId, user)))
    .events(eventRows(deps, [{ type: "user.reactivated", data: { user_id: user.id, reason: "reactivated_by_admin" } }]))
    .commit();
}

/**
 * Treats the account as taken over, in one credential change: the current password is disabled
 * (login answers 401 as for any wrong password), every session, device token and API key dies, and
 * pending reset and email-change links are void; then a reset link goes to the account's address.
 */
export async function forcePasswordReset(deps: Deps, actorUserId: string, id: string): Promise<void> {
  const user = await requireActiveUser(deps, id);
  await changeCredentials(deps, {
    userId: user.id,
    set: { passwordHash: DISABLED_PASSWORD },
    bumpEpoch: true,
    revokeSessionsReason: "admin_password_reset",
    revokeApiKeys: "all",
    markers: voidMarkers(user.id, ["reset", "email_change"], deps.now().getTime()),
    audit: {
      ...adminEntry("admin.password_reset", actorUserId, user),
      countRevokedSessionsAs: "sessions_revoked",
      countRevokedApiKeysAs: "api_keys_revoked",
    },
  });
  // Issued after the batch voided older links, so this one is the newest and stays usable.
  deps.waitUntil(mailResetLink(deps, user, { class: "account" }));
}

/**
 * A help-desk reset of the second factors (`DELETE /admin/users/{id}/mfa`): the authenticator app,
 * every passkey (each also serves as a second step) and the recovery codes go in one batch, with
 * the audit row naming the administrator and the `user.mfa_disabled` event; the user is told. The
 * next enrolment then also needs a code mailed to the account's address (accounts/enrolment-proof.ts),
 * so whoever talked the help desk into the reset cannot enrol their own factor with the password.
 * Sessions stay: the reset is about a lost device, not a taken account (that is the password reset).
 */
export async function resetSecondFactors(deps: Deps, actorUserId: string, id: string): Promise<void> {
  const user = await requireUser(deps, id);
  const now = deps.now();
  const committed = await deps
    .work()
    .fence(sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.id} AND ${users.deletedAt} IS NULL)`)
    .addAll([...factorRemoval(deps.db, user.id, null, now), userUpdate(deps.db, user.id, { mfaResetAt: now })])
    .audit(auditRow(deps, adminEntry("admin.mfa_reset", actorUserId, user, { removed: user.secondFactors })))
    .events(eventRows(deps, [{ type: "user.mfa_disabled", data: { user_id: user.id, method: "all", reason: "reset_by_admin" } }]))
    .commit();
  if (!committed.committed) throw notFound();
  deps.waitUntil(sendSecurityNotice(deps, user.id, "mfa_reset", user));
}

/** Roles reach access tokens at the user's next refresh or login. */
export async function setRoles(deps: Deps, actorUserId: string, id: string, roles: string[]): Promise<AdminUserView> {
  const user = await requireUser(deps, id);
  const unique = [...new Set(roles)].sort();
  const work = deps.work();
  const updated = work.add(userUpdate(deps.db, user.id, { roles: unique, updatedAt: deps.now() }));
  work.audit(auditRow(deps, adminEntry("user.roles_changed", actorUserId, user, { roles: unique, previous: user.roles })));
  const committed = (await work.commit()) as Committed;
  return toAdminUserView(committed.result(updated)[0] ?? user);
}

/** Every session (through the epoch, like logout-all), or one: 404 when it is not a live session of this user. */
export async function revokeUserSessions(deps: Deps, actorUserId: string, id: string, sessionId?: string): Promise<void> {
  const user = await requireUser(deps, id);
  if (sessionId === undefined) {
    await changeCredentials(deps, {
      userId: user.id,
      set: {},
      bumpEpoch: true,
      revokeSessionsReason: "revoked_by_admin",
      revokeApiKeys: "none",
      events: [{ type: "session.revoked", data: { user_id: user.id, session_id: null, reason: "revoked_by_admin" } }],
      audit: { ...adminEntry("session.revoked", actorUserId, user), countRevokedSessionsAs: "sessions_revoked" },
    });
    return;
  }
  const audit = adminEntry("session.revoked", actorUserId, user, { session_id: sessionId });
  const revoked = await revokeSessions(deps, user.id, [sessionId], "revoked_by_admin", { audit });
  if (revoked.length === 0) throw new AppError("not_found", { detail: "No such session." });
}

/**
 * Grants or revokes superuser; never from the last active one (409 `last_superuser`). The flag and
 * its audit row are one batch, fenced on "another active superuser remains" when revoking.
 */
export async function setSuperuserFlag(deps: Deps, actorUserId: string, id: string, value: boolean): Promise<void> {
  const user = await requireUser(deps, id);
  const now = deps.now();
  const work = deps.work();
  work.fence(superuserChangeAllowed(user.id, value));
  work.add(superuserUpdate(deps.db, user.id, value, now));
  work.audit(auditRow(deps, adminEntry(value ? "admin.superuser_granted" : "admin.superuser_revoked", actorUserId, user)));
  if ((await work.commit()).committed) return;
  await requireUser(deps, id);
  throw new AppError("last_superuser");
}

async function requireUser(deps: Deps, id: string): Promise<User> {
  const user = await findUserById(deps.db, id);
  if (!user) throw notFound();
  return user;
}

async function requireActiveUser(deps: Deps, id: string): Promise<User> {
  const user = await requireUser(deps, id);
  if (!user.isActive) throw new AppError("validation_failed", { errors: [{ field: "id", message: "The account is deactivated." }] });
  return user;
}

const notFound = () => new AppError("not_found", { detail: "No such user." });

/** An administrator's action on `user`, as its audit row says it. */
function adminEntry(action: AuditAction, actorUserId: string, user: User, metadata: Record<string, unknown> = {}): AuditEntry {
  return { action, userId: user.id, actorUserId, resource: `user:${user.id}`, metadata };
}
