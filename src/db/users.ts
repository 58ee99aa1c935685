import { and, eq, inArray, isNotNull, isNull, lt, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { traceErasure } from "./erasure";
import { users, type User } from "./schema";

/** Queries on `users`. Every lookup ignores soft-deleted rows and is served by an index. */

export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return findUserByIdentifier(db, { email });
}

export function findUserByUsername(db: Db, username: string): Promise<User | undefined> {
  return findUserByIdentifier(db, { username });
}

/** How a person names their account: the normalised email, or the username (any casing). */
export type AccountIdentifier = { email: string } | { username: string };

export function findUserByIdentifier(db: Db, identifier: AccountIdentifier): Promise<User | undefined> {
  return selectUserByIdentifier(db, identifier).get();
}

/** The live account an identifier names, as a query (for a batch). */
export function selectUserByIdentifier(db: Db, identifier: AccountIdentifier) {
  const match =
    "email" in identifier ? eq(users.email, identifier.email) : sql`lower(${users.username}) = ${identifier.username.toLowerCase()}`;
  return db
    .select()
    .from(users)
    .where(and(match, isNull(users.deletedAt)))
    .limit(1);
}

/** The identifier a login body names: `email` when present, else `username`. */
export function identifierOf(body: { email?: string | undefined; username?: string | undefined }): AccountIdentifier {
  return body.email !== undefined ? { email: body.email } : { username: body.username ?? "" };
}

/** An SQL condition (for a unit of work's fence): the account `id` exists and is not deleted. */
export function isLiveUser(id: string): SQL {
  return sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${id} AND ${users.deletedAt} IS NULL)`;
}

export function findUserById(db: Db, id: string): Promise<User | undefined> {
  return db
    .select()
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
    .get();
}

/**
 * A new account's row, for a unit of work (every column given, so the caller's copy is the row as
 * stored). The unique indexes on email and username decide races.
 */
export function insertUser(db: Db, user: User): BatchItem<"sqlite"> {
  return db.insert(users).values(user);
}

/** Whether a live account holds the address, and one holds the username (any casing), in one round trip. */
export async function findHolders(db: Db, email: string, username: string | null): Promise<{ byEmail?: User; byUsername?: User }> {
  if (!username) return { byEmail: (await selectUserByIdentifier(db, { email }))[0] };
  const [[byEmail], [byUsername]] = await db.batch([selectUserByIdentifier(db, { email }), selectUserByIdentifier(db, { username })]);
  return { byEmail, byUsername };
}

/** The update of a live user's fields, as a statement of a unit of work: it returns the row. */
export function userUpdate(db: Db, id: string, changes: Partial<typeof users.$inferInsert>) {
  return db
    .update(users)
    .set(changes)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
    .returning();
}

/**
 * Marks the address verified only while it is still the user's address: a verification link for an
 * address the account has since left must not verify the new one.
 */
export function markEmailVerified(db: Db, id: string, email: string, now: Date): Promise<User | undefined> {
  return db
    .update(users)
    .set({ emailVerified: true, updatedAt: now })
    .where(and(eq(users.id, id), eq(users.email, email), isNull(users.deletedAt)))
    .returning()
    .get();
}

/**
 * The fields that overwrite a deleted account's personal data: the id stays (audit rows name it),
 * nothing that identified the person or could log in does.
 */
const ERASED = { username: null, fullName: "", passwordHash: "!erased", emailVerified: false } as const;

export function tombstone(id: string, now: Date): Partial<typeof users.$inferInsert> {
  return { ...ERASED, email: `deleted+${id}@invalid`, erasedAt: now };
}

/** The same, for statements over many rows. */
const tombstoneSql = (now: Date) => ({ ...ERASED, email: sql`'deleted+' || ${users.id} || '@invalid'`, erasedAt: now });

/** Deleted accounts whose grace ended (deleted before `cutoff`) and not yet erased: at most `limit` ids, oldest deletion first. */
export async function accountsToErase(db: Db, cutoff: Date, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(and(isNotNull(users.deletedAt), lt(users.deletedAt, cutoff), isNull(users.erasedAt)))
    .orderBy(users.deletedAt)
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/**
 * Erases these deleted accounts, those of them still not erased: their personal fields are
 * overwritten and their traces cleared (db/erasure.ts), in one batch. At most 50 ids (bound
 * parameters per statement). Returns how many were erased.
 */
export async function eraseDeletedAccounts(db: Db, ids: string[], now: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const which = and(inArray(users.id, ids), isNotNull(users.deletedAt), isNull(users.erasedAt)) as SQL;
  const [first, ...rest] = traceErasure(db, which);
  const results = await db.batch([first!, ...rest, db.update(users).set(tombstoneSql(now)).where(which).returning({ id: users.id })]);
  return (results.at(-1) as { id: string }[]).length;
}

/** With verification required: accounts still unverified since before `cutoff`, at most `limit` ids, oldest first. */
export async function unverifiedAccountsToExpire(db: Db, cutoff: Date, limit: number): Promise<string[]> {
  const rows = await db.select({ id: users.id }).from(users).where(expirable(cutoff)).orderBy(users.createdAt).limit(limit).all();
  return rows.map((r) => r.id);
}

const expirable = (cutoff: Date) => and(eq(users.emailVerified, false), isNull(users.deletedAt), lt(users.createdAt, cutoff)) as SQL;

/**
 * Deletes and erases these accounts, those of them still unverified since before `cutoff` (only
 * while verification is required), freeing their addresses: a new registration reclaiming an
 * address, or the daily clean-up. Their traces go in the same batch (db/erasure.ts). At most 50 ids.
 */
export async function expireUnverifiedAccounts(db: Db, cutoff: Date, now: Date, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const which = and(inArray(users.id, ids), expirable(cutoff)) as SQL;
  const [first, ...rest] = traceErasure(db, which);
  const expire = db
    .update(users)
    .set({ ...tombstoneSql(now), deletedAt: now, isActive: false, updatedAt: now })
    .where(which)
    .returning({ id: users.id });
  const results = await db.batch([first!, ...rest, expire]);
  return (results.at(-1) as { id: string }[]).length;
}
