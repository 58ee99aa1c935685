import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "./client";
import { users, type User } from "./schema";

/** Queries on `users`. Every lookup ignores soft-deleted rows and is served by an index. */

export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db.select().from(users).where(and(eq(users.email, email), isNull(users.deletedAt))).get();
}

export function findUserByUsername(db: Db, username: string): Promise<User | undefined> {
  return db
    .select()
    .from(users)
    .where(and(sql`lower(${users.username}) = ${username.toLowerCase()}`, isNull(users.deletedAt)))
    .get();
}

export function findUserById(db: Db, id: string): Promise<User | undefined> {
  return db.select().from(users).where(and(eq(users.id, id), isNull(users.deletedAt))).get();
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
