import { and, desc, eq, isNull, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { apiKeys, users, type ApiKey, type User } from "./schema";

/** Queries on `api_keys`. Every lookup is served by an index: `key_id` (unique) or `(user_id, created_at)`. */

/**
 * Inserts a key only while the user holds fewer than `cap` live (unrevoked, unexpired) keys.
 * The count and the insert are one statement, and D1 runs writes one at a time, so concurrent
 * creations cannot push a user past the cap. Returns whether the row was inserted.
 */
export async function insertApiKeyWithinCap(db: Db, key: typeof apiKeys.$inferInsert & { createdAt: Date }, cap: number): Promise<boolean> {
  const now = key.createdAt.getTime();
  const result = await db.run(sql`
    INSERT INTO api_keys (id, user_id, name, key_id, secret_hash, scopes, created_at, expires_at, created_by_session_id)
    SELECT ${key.id}, ${key.userId}, ${key.name}, ${key.keyId}, ${key.secretHash}, ${JSON.stringify(key.scopes)},
           ${now}, ${key.expiresAt?.getTime() ?? null}, ${key.createdBySessionId ?? null}
    WHERE (SELECT count(*) FROM api_keys
           WHERE user_id = ${key.userId} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now})) < ${cap}`);
  return result.meta.changes === 1;
}

/** A user's keys that have not been revoked (expired ones included, so the owner sees them), newest first. */
export function listUserApiKeys(db: Db, userId: string): Promise<ApiKey[]> {
  return db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .all();
}

/** Revokes one of the user's keys; undefined when it is not theirs or already revoked. */
export function markApiKeyRevoked(db: Db, id: string, userId: string, now: Date): Promise<ApiKey | undefined> {
  return db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .returning()
    .get();
}

/**
 * The key with this public `key_id` and its owner, in one round trip through the unique index:
 * the cost does not depend on how many users or keys exist. Soft-deleted owners are excluded.
 */
export function findApiKeyWithUser(db: Db, keyId: string): Promise<{ key: ApiKey; user: User } | undefined> {
  return db
    .select({ key: apiKeys, user: users })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.keyId, keyId), isNull(users.deletedAt)))
    .get();
}

/**
 * Records a use: compare-and-set on the values read at authentication, so of several concurrent
 * requests exactly one writes (and only that one reports a new IP). `alongside` gets the condition
 * "this write happened" for statements of the same batch (the new-IP audit row), so they exist
 * exactly when the write does. Returns whether it wrote.
 */
export async function touchApiKey(
  db: Db,
  id: string,
  seen: { at: Date | null; ip: string | null },
  next: { at: Date; ip: string | null },
  alongside?: (applied: SQL) => BatchItem<"sqlite">[],
): Promise<boolean> {
  const update = db
    .update(apiKeys)
    .set({ lastUsedAt: next.at, lastUsedIp: next.ip })
    .where(and(eq(apiKeys.id, id), sql`${apiKeys.lastUsedAt} IS ${seen.at?.getTime() ?? null}`, sql`${apiKeys.lastUsedIp} IS ${seen.ip}`));
  // SQLite's changes(): rows changed by the statement just before (the UPDATE, in this batch's
  // transaction). Not "the row now holds these values": a concurrent request of the same millisecond
  // that lost the compare-and-set would see the winner's values and write a second row.
  const applied = sql`changes() = 1`;
  const [result] = await db.batch([update, ...(alongside?.(applied) ?? [])]);
  return result.meta.changes === 1;
}

/**
 * Deletes keys revoked or expired before `cutoff`, at most `batchSize` per statement; returns how
 * many this statement deleted. Nothing references a key row, and its audit rows name it by id.
 */
export async function pruneDeadApiKeys(db: Db, cutoff: Date, batchSize: number): Promise<number> {
  const before = cutoff.getTime();
  const result = await db.run(sql`
    DELETE FROM api_keys WHERE id IN (
      SELECT id FROM api_keys WHERE revoked_at < ${before} OR expires_at < ${before} LIMIT ${batchSize})`);
  return result.meta.changes;
}

/** SQL: how many of the user's keys were revoked at `now` (by the batch this is part of). */
export function countKeysRevokedAt(userId: string, now: Date) {
  return sql`(SELECT count(*) FROM ${apiKeys} WHERE ${apiKeys.userId} = ${userId} AND ${apiKeys.revokedAt} = ${now.getTime()})`;
}
