import { and, desc, eq, gte, isNotNull, isNull, lte, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { users, type User } from "./schema";
import { olderThan } from "./keyset";
import { isLiveUser } from "./users";

/** Queries for the administration of users. Deleted accounts are never listed. */

export type UserStatus = "active" | "deactivated" | "unverified";

export interface UserFilter {
  /** Prefix of the email or of the username, any casing. */
  query?: string | undefined;
  status?: UserStatus | undefined;
  /** With a second factor, or without one. */
  mfa?: "enrolled" | "none" | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  /** Keyset position: rows strictly after it (newest first). */
  after?: { createdAt: Date; id: string } | null;
}

/** LIKE pattern for a prefix, with the wildcards of the input escaped. */
const prefixPattern = (text: string) => `${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const STATUS: Record<UserStatus, SQL | undefined> = {
  active: and(eq(users.isActive, true), isNull(users.deactivatedAt)),
  deactivated: isNotNull(users.deactivatedAt),
  unverified: eq(users.emailVerified, false),
};

export function listUsersPage(db: Db, filter: UserFilter, limit: number): Promise<User[]> {
  const pattern = filter.query ? prefixPattern(filter.query) : undefined;
  const after = filter.after;
  return db
    .select()
    .from(users)
    .where(
      and(
        isNull(users.deletedAt),
        pattern
          ? or(sql`${users.email} LIKE ${pattern} ESCAPE '\\'`, sql`lower(${users.username}) LIKE ${pattern} ESCAPE '\\'`)
          : undefined,
        filter.status ? STATUS[filter.status] : undefined,
        filter.mfa ? (filter.mfa === "none" ? sql`${users.secondFactors} = '[]'` : sql`${users.secondFactors} <> '[]'`) : undefined,
        filter.createdAfter ? gte(users.createdAt, filter.createdAfter) : undefined,
        filter.createdBefore ? lte(users.createdAt, filter.createdBefore) : undefined,
        olderThan(users, after),
      ),
    )
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(limit)
    .all();
}

const otherActiveSuperusers = (id: string) =>
  sql`SELECT count(*) FROM ${users} WHERE ${users.isSuperuser} = 1 AND ${users.isActive} = 1 AND ${users.deletedAt} IS NULL AND ${users.id} <> ${id}`;

/**
 * An SQL condition for a change's fence: taking `id` out of the active superusers (deleting,
 * deactivating or demoting it) still leaves one. True when `id` is not an active superuser. Evaluated
 * on the primary inside the change's own batch, so two such changes racing each other (two
 * superusers deactivating one another) are decided one after the other: the second finds the first
 * done and writes nothing.
 */
export function leavesAnActiveSuperuser(id: string): SQL {
  const isActiveSuperuser = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${id} AND ${users.isSuperuser} = 1 AND ${users.isActive} = 1 AND ${users.deletedAt} IS NULL)`;
  return sql`(NOT ${isActiveSuperuser} OR (${otherActiveSuperusers(id)}) > 0)`;
}

/** The fence of a change of the superuser flag: the account is live and, when revoking, another active superuser remains. */
export function superuserChangeAllowed(id: string, value: boolean): SQL {
  return value ? isLiveUser(id) : sql`${isLiveUser(id)} AND ${leavesAnActiveSuperuser(id)}`;
}

/** Sets or clears the superuser flag of a live account, as a statement of a unit of work (returns the row). */
export function superuserUpdate(db: Db, id: string, value: boolean, now: Date) {
  return db
    .update(users)
    .set({ isSuperuser: value, updatedAt: now })
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
    .returning({ id: users.id });
}
