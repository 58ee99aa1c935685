import { and, desc, eq, gte, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { devices, type Device } from "./schema";

/** Queries on `devices`. */

export function findDevice(db: Db, id: string, userId: string): Promise<Device | undefined> {
  return db
    .select()
    .from(devices)
    .where(and(eq(devices.id, id), eq(devices.userId, userId)))
    .get();
}

/** Revokes one live device of the user; false when there was none. */
export async function markDeviceRevoked(db: Db, id: string, userId: string, reason: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(devices)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(devices.id, id), eq(devices.userId, userId), isNull(devices.revokedAt)))
    .returning({ id: devices.id });
  return rows.length > 0;
}

/** Devices neither revoked nor older than `since` (the later of the credentials epoch and the lifetime), newest first. */
export function listLiveDevices(db: Db, userId: string, since: Date): Promise<Device[]> {
  return db
    .select()
    .from(devices)
    .where(and(eq(devices.userId, userId), isNull(devices.revokedAt), gte(devices.createdAt, since)))
    .orderBy(desc(devices.createdAt), desc(devices.id))
    .all();
}
