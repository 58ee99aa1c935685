import { and, desc, eq, gte, isNotNull, isNull, lte, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { users, type User } from "./schema";
import { olderThan } from "./keyset";

/** Queries for the administration of users. Deleted accounts are never listed. */

export type UserStatus = "active" | "deactivated" | "unverified";

export interface UserFilter {
  /** Prefix of the email or of the username, any casing. */
  query?: string | undefined;
  status?: UserStatus | undefined;
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
        filter.createdAfter ? gte(users.createdAt, filter.createdAfter) : undefined,
        filter.createdBefore ? lte(users.createdAt, filter.createdBefore) : undefined,
        olderThan(users, after),
      ),
    )
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(limit)
    .all();
}

/** Active superusers other than `id`. */
export async function countOtherActiveSuperusers(db: Db, id: string): Promise<number> {
  const row = await db.get<{ n: number }>(sql`SELECT (${otherActiveSuperusers(id)}) AS n`);
  return row?.n ?? 0;
}

const otherActiveSuperusers = (id: string) =>
  sql`SELECT count(*) FROM ${users} WHERE ${users.isSuperuser} = 1 AND ${users.isActive} = 1 AND ${users.deletedAt} IS NULL AND ${users.id} <> ${id}`;

/** Sets or clears the superuser flag; clearing succeeds only while another active superuser remains (one statement). */
export async function setSuperuser(db: Db, id: string, value: boolean, now: Date): Promise<"changed" | "last_superuser" | "not_found"> {
  const others = sql`(${otherActiveSuperusers(id)})`;
  const rows = await db
    .update(users)
    .set({ isSuperuser: value, updatedAt: now })
    .where(and(eq(users.id, id), isNull(users.deletedAt), value ? undefined : sql`${others} > 0`))
    .returning({ id: users.id });
  if (rows.length > 0) return "changed";
  const exists = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
    .get();
  return exists ? "last_superuser" : "not_found";
}
