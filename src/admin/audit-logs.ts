import { recordAudit } from "../audit/audit";
import { listAuditLogs, type AuditFilters } from "../db/audit-logs";
import type { AuditPosition } from "../db/audit-logs";
import type { AuditLog } from "../db/schema";
import type { Deps } from "../kernel/deps";
import { describeError, log } from "../log";
import { decodeCursor, toPage } from "../pagination";

/**
 * `GET /admin/audit-logs`: the whole security log for administrators, filtered by user, action,
 * IP and time, newest first; as JSON pages or as one NDJSON export of every matching row. Unlike a
 * user's own trail (audit/security-events.ts) nothing is hidden: failure reasons, the acting
 * administrator and their IP are what an operator reads this for.
 */

const DEFAULT_LIMIT = 50;
export const AUDIT_LOGS_MAX_LIMIT = 100;
/** Rows per D1 query while exporting: large enough to keep round trips few, small enough to stream. */
const EXPORT_CHUNK = 500;

export interface AuditLogQuery {
  user_id?: string | undefined;
  action?: string | undefined;
  ip?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

export interface AdminAuditEvent {
  id: string;
  action: string;
  user_id: string | null;
  actor_user_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  created_at: string;
  metadata: Record<string, unknown> | null;
}

function toEvent(row: AuditLog): AdminAuditEvent {
  return {
    id: row.id,
    action: row.action,
    user_id: row.userId,
    actor_user_id: row.actorUserId,
    ip_address: row.ipAddress,
    user_agent: row.userAgent,
    created_at: row.createdAt.toISOString(),
    metadata: row.metadata ?? null,
  };
}

function filtersOf(query: AuditLogQuery): AuditFilters {
  return {
    userId: query.user_id,
    action: query.action,
    ip: query.ip,
    since: query.since !== undefined ? new Date(query.since) : undefined,
    until: query.until !== undefined ? new Date(query.until) : undefined,
  };
}

export async function listAuditEvents(
  deps: Deps,
  query: AuditLogQuery,
): Promise<{ events: AdminAuditEvent[]; next_cursor: string | null }> {
  const limit = query.limit ?? DEFAULT_LIMIT;
  const before = query.cursor ? decodeCursor(query.cursor) : null;
  const { page, nextCursor } = toPage(await listAuditLogs(deps.db, filtersOf(query), before, limit + 1), limit);
  return { events: page.map(toEvent), next_cursor: nextCursor };
}

/**
 * The NDJSON export: one event per line, every row matching the filters (from `cursor` on, if
 * given; `limit` does not apply), read from D1 a chunk at a time as the client reads, so neither
 * side holds the whole log. The walk goes from the newest row backwards (keyset), so rows written
 * meanwhile never shift it or appear twice. The export is audited before any row is read; a D1
 * failure midway errors the stream, which aborts the transfer (never a clean end), and is logged.
 */
export async function exportAuditEvents(deps: Deps, actorUserId: string, query: AuditLogQuery): Promise<ReadableStream<Uint8Array>> {
  const filters = filtersOf(query);
  let position: AuditPosition | null = query.cursor ? decodeCursor(query.cursor) : null;
  const applied = Object.fromEntries(Object.entries({ ...query, limit: undefined }).filter(([, v]) => v !== undefined));
  await recordAudit(deps, { action: "admin.audit_exported", actorUserId, metadata: { filters: applied } });

  const encoder = new TextEncoder();
  let exported = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const rows = await listAuditLogs(deps.db, filters, position, EXPORT_CHUNK);
          if (rows.length > 0) controller.enqueue(encoder.encode(rows.map((row) => `${JSON.stringify(toEvent(row))}\n`).join("")));
          exported += rows.length;
          const last = rows.at(-1);
          if (!last || rows.length < EXPORT_CHUNK) return controller.close();
          position = { createdAt: last.createdAt, id: last.id };
        } catch (error) {
          log("error", "audit.export_failed", { request_id: deps.meta.requestId, exported, ...describeError(error) });
          controller.error(error);
        }
      },
    },
    // Read from D1 only when the client has taken the previous chunk.
    { highWaterMark: 0 },
  );
}
