import { and, asc, count, eq, gte, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { passkeys, userIdentities, users, type User } from "./schema";

/** Queries on `user_identities`: external sign-in identities, keyed by (issuer, subject). */

export type UserIdentity = typeof userIdentities.$inferSelect;

export function listIdentities(db: Db, userId: string): Promise<UserIdentity[]> {
  return db.select().from(userIdentities).where(eq(userIdentities.userId, userId)).orderBy(asc(userIdentities.createdAt)).limit(100);
}

/** The identity a provider asserted, with its account (not deleted), in one read. */
export async function findIdentityWithUser(
  db: Db,
  issuer: string,
  subject: string,
): Promise<{ identity: UserIdentity; user: User } | undefined> {
  const rows = await db
    .select()
    .from(userIdentities)
    .innerJoin(users, eq(users.id, userIdentities.userId))
    .where(and(eq(userIdentities.issuer, issuer), eq(userIdentities.subject, subject), sql`${users.deletedAt} IS NULL`))
    .limit(1);
  const row = rows[0];
  return row ? { identity: row.user_identities, user: row.users } : undefined;
}

export function insertIdentity(db: Db, row: typeof userIdentities.$inferInsert) {
  return db.insert(userIdentities).values(row);
}

/**
 * Removes one identity, only while the account keeps another way in (a usable password, a passkey
 * or another identity: API.md "A way in"), decided in the statement itself so two parallel
 * removals can never leave the account with none.
 */
export function deleteIdentityKeepingAWayIn(db: Db, userId: string, id: string, disabledPassword: string) {
  const otherWayIn = sql`(
    EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.passwordHash} <> ${disabledPassword})
    OR EXISTS (SELECT 1 FROM ${passkeys} WHERE ${passkeys.userId} = ${userId})
    OR EXISTS (SELECT 1 FROM ${userIdentities} AS other WHERE other.user_id = ${userId} AND other.id <> ${id}))`;
  return db
    .delete(userIdentities)
    .where(and(eq(userIdentities.id, id), eq(userIdentities.userId, userId), otherWayIn))
    .returning({ id: userIdentities.id, provider: userIdentities.provider, email: userIdentities.email });
}

export async function countIdentities(db: Db, userId: string): Promise<number> {
  return (await db.select({ n: count() }).from(userIdentities).where(eq(userIdentities.userId, userId)))[0]?.n ?? 0;
}

/**
 * Removes linked identities with a credential change: every one (`since` null: a first proof of the
 * address, a deletion) or those linked at or after `since` (a revert: older ones stay).
 */
export function identityRemoval(db: Db, userId: string, since: Date | null): BatchItem<"sqlite"> {
  return db.delete(userIdentities).where(and(eq(userIdentities.userId, userId), since ? gte(userIdentities.createdAt, since) : undefined));
}

/** Identities of the accounts matching `accounts` (a condition over `users`), for an erasure's batch. */
export function identitiesOf(db: Db, accounts: SQL): BatchItem<"sqlite"> {
  return db.delete(userIdentities).where(sql`${userIdentities.userId} IN (SELECT ${users.id} FROM ${users} WHERE ${accounts})`);
}
