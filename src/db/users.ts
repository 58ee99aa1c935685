import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "./client";
import { users, type User } from "./schema";

/** Queries on `users`. Every lookup ignores soft-deleted rows and is served by an index. */

export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db
    .select()
    .from(users)
    .where(and(eq(users.email, email), isNull(users.deletedAt)))
    .get();
}

export function findUserByUsername(db: Db, username: string): Promise<User | undefined> {
  return db
    .select()
    .from(users)
    .where(and(sql`lower(${users.username}) = ${username.toLowerCase()}`, isNull(users.deletedAt)))
    .get();
}

/** How a person names their account: the normalised email, or the username (any casing). */
export type AccountIdentifier = { email: string } | { username: string };

export function findUserByIdentifier(db: Db, identifier: AccountIdentifier): Promise<User | undefined> {
  return "email" in identifier ? findUserByEmail(db, identifier.email) : findUserByUsername(db, identifier.username);
}

/** The identifier a login body names: `email` when present, else `username`. */
export function identifierOf(body: { email?: string | undefined; username?: string | undefined }): AccountIdentifier {
  return body.email !== undefined ? { email: body.email } : { username: body.username ?? "" };
}

export function findUserById(db: Db, id: string): Promise<User | undefined> {
  return db
    .select()
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
    .get();
}

export function insertUser(db: Db, user: typeof users.$inferInsert): Promise<User> {
  return db.insert(users).values(user).returning().get();
}

export function updateUser(db: Db, id: string, changes: Partial<typeof users.$inferInsert>): Promise<User | undefined> {
  return db
    .update(users)
    .set(changes)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
    .returning()
    .get();
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
 * Moves the account from `fromEmail` to `toEmail`, which is verified by the act of confirming.
 * Conditional on the current address, so a change that raced another one does nothing. Throws the
 * driver's UNIQUE error when `toEmail` was taken meanwhile (the partial unique index decides).
 */
export function changeUserEmail(db: Db, id: string, fromEmail: string, toEmail: string, now: Date): Promise<User | undefined> {
  return db
    .update(users)
    .set({ email: toEmail, emailVerified: true, updatedAt: now })
    .where(and(eq(users.id, id), eq(users.email, fromEmail), isNull(users.deletedAt)))
    .returning()
    .get();
}
