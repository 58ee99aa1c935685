import { and, asc, count, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { passkeys, users, type Passkey, type User } from "./schema";

/** Queries on `passkeys`. */

export function listPasskeys(db: Db, userId: string): Promise<Passkey[]> {
  return db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt)).limit(100);
}

/** The credential an assertion names, with its account, in one read. */
export async function findPasskeyWithUser(db: Db, credentialId: string): Promise<{ passkey: Passkey; user: User } | undefined> {
  const rows = await db
    .select()
    .from(passkeys)
    .innerJoin(users, eq(users.id, passkeys.userId))
    .where(eq(passkeys.credentialId, credentialId))
    .limit(1);
  const row = rows[0];
  return row ? { passkey: row.passkeys, user: row.users } : undefined;
}

export function insertPasskey(db: Db, row: typeof passkeys.$inferInsert) {
  return db.insert(passkeys).values(row);
}

/**
 * A sign-in's use of a passkey: its counter and backup state move, only while the counter is the
 * one the assertion was checked against (two parallel uses of one counting authenticator: one wins).
 */
export function passkeyUsed(
  db: Db,
  passkey: Pick<Passkey, "id" | "signCount">,
  after: { signCount: number; backedUp: boolean; now: Date },
) {
  return db
    .update(passkeys)
    .set({ signCount: after.signCount, backedUp: after.backedUp, lastUsedAt: after.now })
    .where(and(eq(passkeys.id, passkey.id), eq(passkeys.signCount, passkey.signCount)));
}

/** SQL: the passkey's counter is still the one checked (the fence of a sign-in with a counting authenticator). */
export function counterUnchanged(passkey: Pick<Passkey, "id" | "signCount">): SQL {
  return sql`EXISTS (SELECT 1 FROM ${passkeys} WHERE ${passkeys.id} = ${passkey.id} AND ${passkeys.signCount} = ${passkey.signCount})`;
}

export function renamePasskey(db: Db, userId: string, id: string, name: string) {
  return db
    .update(passkeys)
    .set({ name })
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .returning();
}

export function deletePasskey(db: Db, userId: string, id: string) {
  return db
    .delete(passkeys)
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .returning({ id: passkeys.id });
}

export async function countPasskeys(db: Db, userId: string): Promise<number> {
  return (await db.select({ n: count() }).from(passkeys).where(eq(passkeys.userId, userId)))[0]?.n ?? 0;
}
