import { and, eq, isNull } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { devices, users, type Device, type User } from "./schema";
import { selectUserByIdentifier, type AccountIdentifier } from "./users";

/** The reads and writes of a password login (src/accounts/login.ts), each one round trip. */

/** The account an identifier names and the device row a device token names, in one batch. */
export async function readLoginState(
  db: Db,
  identifier: AccountIdentifier,
  deviceId: string | null,
): Promise<{ user: User | undefined; device: Device | undefined }> {
  const userQuery = selectUserByIdentifier(db, identifier);
  if (deviceId === null) return { user: (await userQuery)[0], device: undefined };
  const [[user], [device]] = await db.batch([userQuery, db.select().from(devices).where(eq(devices.id, deviceId)).limit(1)]);
  return { user, device };
}

/**
 * The user-side writes of a successful login, for the session's batch: the last-login time (and a
 * rehashed password, only while the row still has the hash that was verified), and the device seen
 * or added.
 */
export function loginWrites(
  db: Db,
  args: {
    user: Pick<User, "id" | "passwordHash">;
    now: Date;
    rehash: string | null;
    device: { seen: string } | { added: typeof devices.$inferInsert };
    client: { ip: string | null; userAgent: string | null };
  },
): BatchItem<"sqlite">[] {
  const { user, now } = args;
  const seen = db
    .update(users)
    .set({ lastLoginAt: now })
    .where(and(eq(users.id, user.id), isNull(users.deletedAt)));
  const rehashed = args.rehash
    ? [
        db
          .update(users)
          .set({ passwordHash: args.rehash })
          .where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash))),
      ]
    : [];
  const device =
    "seen" in args.device
      ? [
          db
            .update(devices)
            .set({ lastSeenAt: now, ipAddress: args.client.ip, userAgent: args.client.userAgent })
            .where(eq(devices.id, args.device.seen)),
        ]
      : deviceInserts(db, args.device);
  return [seen, ...rehashed, ...device];
}

/** A new device's row, for a sign-in's batch (a device seen again is written by {@link loginWrites}). */
export function deviceInserts(db: Db, device: { added: typeof devices.$inferInsert } | { seen: string }): BatchItem<"sqlite">[] {
  return "added" in device ? [db.insert(devices).values(device.added)] : [];
}
