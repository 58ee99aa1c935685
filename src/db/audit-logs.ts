import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { auditLogs, type AuditLog } from "./schema";
import { olderThan } from "./keyset";

/** Queries on `audit_logs`. */

/**
 * The insert of one audit row into the caller's batch, made only if `onlyIf` holds when it runs
 * (e.g. "the statement before it changed a row"). INSERT … SELECT names every column in table order.
 */
export function auditInsertIf(db: Db, row: AuditLog, onlyIf: SQL): BatchItem<"sqlite"> {
  const metadata = row.metadata ? JSON.stringify(row.metadata) : null;
  return db
    .insert(auditLogs)
    .select(
      sql`SELECT ${row.id}, ${row.userId}, ${row.actorUserId}, ${row.action}, ${row.resource}, ${row.ipAddress}, ${row.userAgent}, ${metadata}, ${row.createdAt.getTime()} WHERE ${onlyIf}`,
    );
}

/** The insert of one audit row, as an item of the caller's own D1 batch. */
export function auditInsert(db: Db, row: AuditLog, ...countsInMetadata: { key: string; count: SQL }[]): BatchItem<"sqlite"> {
  if (countsInMetadata.length === 0) return db.insert(auditLogs).values(row);
  // Numbers only the batch knows (e.g. how many sessions it revoked), set into the metadata by SQL.
  const paths = countsInMetadata.map(({ key, count }) => sql`, ${`$.${key}`}, ${count}`);
  const metadata = sql`json_set(${JSON.stringify(row.metadata ?? {})}${sql.join(paths)})`;
  return db.insert(auditLogs).values({ ...row, metadata });
}

/** Position in a user's trail: the last row of the previous page. */
export interface AuditPosition {
  createdAt: Date;
  id: string;
}

export interface AuditFilters {
  userId?: string | undefined;
  action?: string | undefined;
  ip?: string | undefined;
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
}

/**
 * One page of matching rows, newest first, strictly after `before` in that order (keyset over
 * `(created_at, id)`: a page costs the same however deep it is). With `userId` the walk follows `audit_logs_user_idx`;
 * otherwise `audit_logs_created_idx`, where `action` and `ip` filter the rows it walks (no index
 * of their own: rare values make a deep page scan more rows, bounded by the retention period).
 */
export function listAuditLogs(db: Db, filters: AuditFilters, before: AuditPosition | null, limit: number): Promise<AuditLog[]> {
  const conditions: (SQL | undefined)[] = [
    filters.userId !== undefined ? eq(auditLogs.userId, filters.userId) : undefined,
    filters.action !== undefined ? eq(auditLogs.action, filters.action) : undefined,
    filters.ip !== undefined ? eq(auditLogs.ipAddress, filters.ip) : undefined,
    filters.since !== undefined ? gte(auditLogs.createdAt, filters.since) : undefined,
    filters.until !== undefined ? lt(auditLogs.createdAt, filters.until) : undefined,
  ];
  conditions.push(olderThan(auditLogs, before));
  return db
    .select()
    .from(auditLogs)
    .where(and(...conditions))
    .orderBy(desc(auditLogs.createdAt), desc(auditLogs.id))
    .limit(limit)
    .all();
}

/**
 * Deletes rows older than `cutoff`, at most `batchSize` per statement so one run never holds D1
 * for long; returns how many were deleted by this statement.
 */
export async function pruneAuditLogs(db: Db, cutoff: Date, batchSize: number): Promise<number> {
  const result = await db.run(sql`
    DELETE FROM audit_logs WHERE id IN (
      SELECT id FROM audit_logs WHERE created_at < ${cutoff.getTime()} LIMIT ${batchSize})`);
  return result.meta.changes;
}

/**
 * Writes the final count of aggregated rows (one row per window of refusals, see
 * abuse/objects/rate-limiter.ts) into their metadata: one statement per row, all in one batch.
 */
export async function setAuditCounts(db: Db, counts: { id: string; count: number }[]): Promise<void> {
  const [first, ...rest] = counts.map(({ id, count }) =>
    db
      .update(auditLogs)
      .set({ metadata: sql`json_set(coalesce(${auditLogs.metadata}, '{}'), '$.count', ${count})` })
      .where(eq(auditLogs.id, id)),
  );
  if (first) await db.batch([first, ...rest]);
}
