import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { auditLogs, type AuditLog } from "./schema";
import { olderThan } from "./keyset";

/** Queries on `audit_logs`. */

/** Position in a user's trail: the last row of the previous page. */
export interface AuditPosition {
  createdAt: Date;
  id: string;
}

/**
 * One page of a user's events, newest first, strictly after `before` in that order. Keyset
 * pagination over `(created_at, id)` walks the `audit_logs_user_idx` index, so a page costs the
 * same however deep it is, and rows inserted meanwhile never shift or repeat entries.
 */
export function listUserAuditLogs(db: Db, userId: string, before: AuditPosition | null, limit: number): Promise<AuditLog[]> {
  const conditions = [eq(auditLogs.userId, userId), olderThan(auditLogs, before)];
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
 * abuse/rate-limiter.ts) into their metadata: one statement per row, all in one batch.
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
