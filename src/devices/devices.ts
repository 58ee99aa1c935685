import { sql } from "drizzle-orm";
import { recordAudit } from "../audit/audit";
import { users, type Device, type devices, type User } from "../db/schema";
import { findDevice, listLiveDevices, markDeviceRevoked } from "../db/devices";
import { deviceInserts } from "../db/logins";
import { findUserById } from "../db/users";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { DEVICE_TOKEN_LIFETIME_MS, signDeviceToken, verifyDeviceToken } from "./device-tokens";

/**
 * Devices a user signed in from (registration and every successful login hand out a device token).
 * A client that presents its token back is a "known device": it gets its own small failure budget
 * instead of the account's lockout and per-address limits, so strangers guessing at an address
 * never lock its owner out (see abuse/guess-guard.ts).
 */

/**
 * The device `token` stands for, if it is a live device of `user`: signed for this user, issued
 * after the user's credentials epoch (reset, password change, email revert and logout-all end every
 * device) and within the lifetime, and not revoked. Anything else is simply not a known device.
 */
export async function recognizeDevice(
  deps: Deps,
  user: Pick<User, "id" | "credentialsEpoch"> | undefined,
  token: string | undefined,
  /** The token's device row when the caller already read it (`device` undefined: none), else read here. */
  preRead?: { device: Device | undefined },
): Promise<Device | null> {
  if (!token) return null;
  // An unknown account costs the same signature check, so a device token cannot probe for accounts.
  const claim = await verifyDeviceToken((await deps.keys()).deviceKey, token, user?.id ?? "");
  if (!claim || !user) return null;
  const now = deps.now().getTime();
  if (claim.issuedAt < user.credentialsEpoch || claim.issuedAt + DEVICE_TOKEN_LIFETIME_MS <= now) return null;
  const device = preRead ? preRead.device : await findDevice(deps.db, claim.deviceId, user.id);
  if (!device || device.id !== claim.deviceId || device.userId !== user.id) return null;
  if (device.revokedAt !== null || device.createdAt.getTime() !== claim.issuedAt) return null;
  return device;
}

/**
 * When the device a token names was first seen, if the token is genuine, for this user, and its
 * device row not revoked: what a sign-in from it proves about who holds it, even after the
 * credentials epoch moved on (an email change ends every device's budget, not the fact that the
 * owner's browser has held that token since). Null for anything else.
 */
export async function deviceHeldSince(deps: Deps, userId: string, token: string): Promise<Date | null> {
  const claim = await verifyDeviceToken((await deps.keys()).deviceKey, token, userId);
  if (!claim) return null;
  const device = await findDevice(deps.db, claim.deviceId, userId);
  if (!device || device.revokedAt !== null || device.createdAt.getTime() !== claim.issuedAt) return null;
  return device.createdAt;
}

/** A sign-in's device: the write that records it (for the sign-in's batch) and the token to hand out. */
export interface DeviceSignIn {
  write: { seen: string } | { added: typeof devices.$inferInsert };
  token: () => Promise<string>;
}

/** The device of a sign-in: the known one seen again, or a new one. Nothing is written here. */
export function deviceSignIn(deps: Deps, userId: string, known: Device | null): DeviceSignIn {
  if (known) return { write: { seen: known.id }, token: () => signFor(deps, userId, known.id, known.createdAt) };
  const added = newDeviceRow(deps, userId, deps.now());
  return { write: { added }, token: () => signFor(deps, userId, added.id, added.createdAt) };
}

/** A new device of this request's client, first seen at `at` (its token's issue time). */
function newDeviceRow(deps: Deps, userId: string, at: Date): typeof devices.$inferInsert & { createdAt: Date } {
  return {
    id: crypto.randomUUID(),
    userId,
    createdAt: at,
    lastSeenAt: at,
    ipAddress: deps.meta.ip,
    userAgent: deps.meta.userAgent?.slice(0, 512) ?? null,
  };
}

async function signFor(deps: Deps, userId: string, deviceId: string, issuedAt: Date): Promise<string> {
  return signDeviceToken((await deps.keys()).deviceKey, userId, deviceId, issuedAt.getTime());
}

/**
 * A device for the client that has just changed the account's password (with the current one, in
 * a live session: the owner). The change ended every device token by moving the credentials epoch,
 * this client's own too; without a new one, its next sign-in would count as a new device and mail
 * the owner a "new sign-in" alarm about their own browser, while a device nobody proved stays
 * unknown and still raises it. The row is written only while the account is still at the epoch
 * read here (a reset or revert since then wins: nothing is written, null). Returns the device token.
 */
export async function deviceAfterPasswordChange(deps: Deps, userId: string): Promise<string | null> {
  const user = await findUserById(deps.db, userId);
  if (!user?.isActive) return null;
  // Never issued before the epoch (it may be ahead of this clock: two changes in one millisecond).
  const added = newDeviceRow(deps, userId, new Date(Math.max(deps.now().getTime(), user.credentialsEpoch)));
  const stillAtEpoch = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.deletedAt} IS NULL
    AND ${users.isActive} = 1 AND ${users.credentialsEpoch} = ${user.credentialsEpoch})`;
  const committed = await deps.work().fence(stillAtEpoch).addAll(deviceInserts(deps.db, { added })).commit();
  return committed.committed ? signFor(deps, userId, added.id, added.createdAt) : null;
}

/** A known device spent its failure budget: its token is void from now on. */
export async function voidDevice(deps: Deps, device: Device): Promise<void> {
  if (await markDeviceRevoked(deps.db, device.id, device.userId, "failure_budget", deps.now())) {
    await recordAudit(deps, {
      action: "device.revoked",
      userId: device.userId,
      resource: `device:${device.id}`,
      metadata: { reason: "failure_budget" },
    });
  }
}

export interface DeviceView {
  id: string;
  created_at: string;
  last_seen_at: string;
  ip_address: string | null;
  user_agent: string | null;
}

/** `GET /users/me/devices`: the user's live devices, newest first. */
export async function listDevices(deps: Deps, user: Pick<User, "id" | "credentialsEpoch">): Promise<DeviceView[]> {
  const since = new Date(Math.max(user.credentialsEpoch, deps.now().getTime() - DEVICE_TOKEN_LIFETIME_MS));
  const rows = await listLiveDevices(deps.db, user.id, since);
  return rows.map((d) => ({
    id: d.id,
    created_at: d.createdAt.toISOString(),
    last_seen_at: d.lastSeenAt.toISOString(),
    ip_address: d.ipAddress,
    user_agent: d.userAgent,
  }));
}

/** `DELETE /users/me/devices/{id}`: 404 unless it is one of the caller's live devices. */
export async function revokeOwnDevice(deps: Deps, userId: string, deviceId: string): Promise<void> {
  if (!(await markDeviceRevoked(deps.db, deviceId, userId, "revoked_by_user", deps.now()))) {
    throw new AppError("not_found", { detail: "No such device." });
  }
  await recordAudit(deps, { action: "device.revoked", userId, resource: `device:${deviceId}`, metadata: { reason: "revoked_by_user" } });
}
