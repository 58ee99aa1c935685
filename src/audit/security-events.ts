import { listAuditLogs } from "../db/audit-logs";
import type { AuditLog } from "../db/schema";
import type { Db } from "../db/client";
import { decodeCursor, toPage } from "../pagination";

/** `GET /users/me/security-events`: the caller's own audit trail, newest first. */

const SECURITY_EVENTS_DEFAULT_LIMIT = 20;
export const SECURITY_EVENTS_MAX_LIMIT = 100;

export interface SecurityEvent {
  id: string;
  action: string;
  ip_address: string | null;
  user_agent: string | null;
  created_at: string;
  metadata: Record<string, unknown> | null;
}

export interface SecurityEventPage {
  events: SecurityEvent[];
  next_cursor: string | null;
}

/**
 * Metadata kept for the operators only. A failed login's reason ("bad_password", "inactive", …)
 * is never told to a client, not even the account owner reading their trail.
 */
const SERVER_ONLY_METADATA: Record<string, readonly string[]> = { "login.failed": ["reason"] };

function toSecurityEvent(row: AuditLog): SecurityEvent {
  let metadata = row.metadata ?? null;
  const hidden = SERVER_ONLY_METADATA[row.action];
  if (metadata && hidden) metadata = Object.fromEntries(Object.entries(metadata).filter(([k]) => !hidden.includes(k)));
  // An administrator's action: the owner learns that one happened, not who or from where.
  const byAdministrator = row.actorUserId !== null && row.actorUserId !== row.userId;
  if (byAdministrator) metadata = { ...metadata, actor: "administrator" };
  return {
    id: row.id,
    action: row.action,
    ip_address: byAdministrator ? null : row.ipAddress,
    user_agent: byAdministrator ? null : row.userAgent,
    created_at: row.createdAt.toISOString(),
    metadata,
  };
}

export async function listSecurityEvents(
  deps: { db: Db },
  userId: string,
  options: { limit?: number | undefined; cursor?: string | undefined },
): Promise<SecurityEventPage> {
  const limit = options.limit ?? SECURITY_EVENTS_DEFAULT_LIMIT;
  const before = options.cursor ? decodeCursor(options.cursor) : null;
  const { page, nextCursor } = toPage(await listAuditLogs(deps.db, { userId }, before, limit + 1), limit);
  return { events: page.map(toSecurityEvent), next_cursor: nextCursor };
}
