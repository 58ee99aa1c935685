import { and, eq, isNull, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { auditLogs, devices, users, type AuditLog, type Device, type User } from "./schema";
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

/** What a password decision depends on: the row, its hash, its state and its credentials epoch. */
type DecidingFields = Pick<User, "id" | "passwordHash" | "isActive" | "emailVerified" | "credentialsEpoch">;

/** Whether two reads of an account would decide a password check alike (both absent, or equal on every deciding field). */
export function decidesAlike(a: DecidingFields | undefined, b: DecidingFields | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.id === b.id &&
    a.passwordHash === b.passwordHash &&
    a.isActive === b.isActive &&
    a.emailVerified === b.emailVerified &&
    a.credentialsEpoch === b.credentialsEpoch
  );
}

/**
 * SQL: the primary's live row is still the one a decision was made on, on every deciding field. The
 * fence of a sign-in decided on a replica's row (a unit of work fenced on it writes nothing
 * otherwise, db/unit-of-work.ts), and the condition of a refusal's audit row.
 */
export function stillAsDecided(user: DecidingFields, where: SQL = sql`${users.id} = ${user.id}`) {
  return sql`EXISTS (SELECT 1 FROM ${users} WHERE ${where} AND ${users.deletedAt} IS NULL AND ${users.id} = ${user.id}
    AND ${users.passwordHash} = ${user.passwordHash} AND ${users.isActive} = ${user.isActive ? 1 : 0}
    AND ${users.emailVerified} = ${user.emailVerified ? 1 : 0} AND ${users.credentialsEpoch} = ${user.credentialsEpoch})`;
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

/**
 * A refused login's primary read and its audit row in one batch (one round trip): the row is written
 * only if the primary's account is the one the refusal was decided on (the same row, password, state
 * and epoch, or no account on either), checked in the same transaction as the read. `recorded`
 * says whether it was; if not, the caller decides again on the primary's row.
 */
export async function readPrimaryRecordingRefusal(
  db: Db,
  identifier: AccountIdentifier,
  decidedOn: User | undefined,
  audit: AuditLog,
): Promise<{ user: User | undefined; recorded: boolean }> {
  const match =
    "email" in identifier
      ? sql`${users.email} = ${identifier.email}`
      : sql`lower(${users.username}) = ${identifier.username.toLowerCase()}`;
  const same = decidedOn
    ? stillAsDecided(decidedOn, match)
    : sql`NOT EXISTS (SELECT 1 FROM ${users} WHERE ${match} AND ${users.deletedAt} IS NULL)`;
  const value = <T>(v: T) => sql<T>`${v}`;
  const insert = db.insert(auditLogs).select(
    db
      .select({
        id: value(audit.id).as("id"),
        userId: value(audit.userId).as("user_id"),
        actorUserId: value(audit.actorUserId).as("actor_user_id"),
        action: value(audit.action).as("action"),
        resource: value(audit.resource).as("resource"),
        ipAddress: value(audit.ipAddress).as("ip_address"),
        userAgent: value(audit.userAgent).as("user_agent"),
        metadata: value(audit.metadata ? JSON.stringify(audit.metadata) : null).as("metadata"),
        createdAt: value(audit.createdAt.getTime()).as("created_at"),
      })
      .from(sql`(SELECT 1)`)
      .where(same),
  );
  const [[user], written] = await db.batch([selectUserByIdentifier(db, identifier), insert]);
  return { user, recorded: written.meta.changes > 0 };
}
