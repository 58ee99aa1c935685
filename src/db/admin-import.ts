import type { Db } from "./client";
import { users } from "./schema";

/** Queries of the user import (admin/import.ts). */

export type ImportedUser = Pick<
  typeof users.$inferInsert,
  "id" | "email" | "emailVerified" | "passwordHash" | "fullName" | "username" | "createdAt" | "updatedAt"
>;

/**
 * Inserts users in one D1 batch (one transaction), one statement per user, and says per user
 * whether it was inserted. A user whose email or username a live account already has, or an
 * earlier row of the same import, is left out by `ON CONFLICT DO NOTHING` on the unique indexes:
 * the check and the insert are one statement, so a registration racing the import never makes
 * either fail. One statement per row because D1 binds at most 100 parameters per statement.
 */
export async function insertUsersIfFree(db: Db, rows: ImportedUser[]): Promise<boolean[]> {
  const [first, ...rest] = rows.map((row) => db.insert(users).values(row).onConflictDoNothing());
  if (!first) return [];
  const results = await db.batch([first, ...rest]);
  return results.map((result) => result.meta.changes > 0);
}
