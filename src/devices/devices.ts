import { recordAudit } from "../audit/audit";
import type { Device, devices, User } from "../db/schema";
import { findDevice, listLiveDevices, markDeviceRevoked } from "../db/devices";
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
  const now = deps.now();
  const sign = async (id: string, issuedAt: number) => signDeviceToken((await deps.keys()).deviceKey, userId, id, issuedAt);
  if (known) return { write: { seen: known.id }, token: () => sign(known.id, known.createdAt.getTime()) };
  const added = {
    id: crypto.randomUUID(),
    userId,
    createdAt: now,
    lastSeenAt: now,
    ipAddress: deps.meta.ip,
    userAgent: deps.meta.userAgent?.slice(0, 512) ?? null,
  };
  return { write: { added }, token: () => sign(added.id, now.getTime()) };
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
