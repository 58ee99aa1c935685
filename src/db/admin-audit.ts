import { and, desc, eq, gte, lt, type SQL } from "drizzle-orm";
import type { AuditPosition } from "./audit-logs";
import type { Db } from "./client";
import { auditLogs, type AuditLog } from "./schema";
import { olderThan } from "./keyset";

/** The administrators' view of `audit_logs`: every row, filtered (admin/audit-logs.ts). */

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
 * `(created_at, id)`, as in audit-logs.ts). With `userId` the walk follows `audit_logs_user_idx`;
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
