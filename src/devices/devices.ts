import { recordAudit } from "../audit/audit";
import type { Device, User } from "../db/schema";
import { findDevice, insertDevice, listLiveDevices, markDeviceRevoked, touchDevice } from "../db/devices";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { DEVICE_TOKEN_LIFETIME_MS, signDeviceToken, verifyDeviceToken } from "./device-tokens";

/**
 * Devices a user signed in from (registration and every successful login hand out a device token).
 * A client that presents its token back is a "known device": it gets its own small failure budget
 * instead of the account's lockout and per-address limits, so strangers guessing at an address
 * never lock its owner out (see abuse/limits.ts).
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
): Promise<Device | null> {
  if (!token) return null;
  // An unknown account costs the same signature check, so a device token cannot probe for accounts.
  const claim = await verifyDeviceToken((await deps.keys()).deviceKey, token, user?.id ?? "");
  if (!claim || !user) return null;
  const now = deps.now().getTime();
  if (claim.issuedAt < user.credentialsEpoch || claim.issuedAt + DEVICE_TOKEN_LIFETIME_MS <= now) return null;
  const device = await findDevice(deps.db, claim.deviceId, user.id);
  if (!device || device.revokedAt !== null || device.createdAt.getTime() !== claim.issuedAt) return null;
  return device;
}

/** The device token to hand out after a successful sign-in: the known device's own, or a new device's. */
export async function deviceTokenFor(deps: Deps, user: User, known: Device | null): Promise<string> {
  const key = (await deps.keys()).deviceKey;
  const now = deps.now();
  const userAgent = deps.meta.userAgent?.slice(0, 512) ?? null;
  if (known) {
    await touchDevice(deps.db, known.id, now, deps.meta.ip, userAgent);
    return signDeviceToken(key, user.id, known.id, known.createdAt.getTime());
  }
  const device = await insertDevice(deps.db, {
    id: crypto.randomUUID(),
    userId: user.id,
    createdAt: now,
    lastSeenAt: now,
    ipAddress: deps.meta.ip,
    userAgent,
  });
  return signDeviceToken(key, user.id, device.id, device.createdAt.getTime());
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
