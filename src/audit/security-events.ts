import { listUserAuditLogs, type AuditPosition } from "../db/audit-logs";
import type { AuditLog } from "../db/schema";
import { AppError } from "../errors";
import { base64url, fromBase64url } from "../crypto";
import type { Deps } from "../deps";

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
  return {
    id: row.id,
    action: row.action,
    ip_address: row.ipAddress,
    user_agent: row.userAgent,
    created_at: row.createdAt.toISOString(),
    metadata,
  };
}

/** Opaque to clients: base64url of `<created_at ms>.<id>`. */
function encodeCursor(position: AuditPosition): string {
  return base64url(new TextEncoder().encode(`${position.createdAt.getTime()}.${position.id}`));
}

/** Throws 422 `validation_failed` for anything this server did not hand out. */
function decodeCursor(cursor: string): AuditPosition {
  const invalid = () => new AppError("validation_failed", { errors: [{ field: "cursor", message: "Invalid cursor." }] });
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw invalid();
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64url(cursor));
  } catch {
    throw invalid();
  }
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(text);
  if (!match) throw invalid();
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}

export async function listSecurityEvents(
  deps: Deps,
  userId: string,
  options: { limit?: number | undefined; cursor?: string | undefined },
): Promise<SecurityEventPage> {
  const limit = options.limit ?? SECURITY_EVENTS_DEFAULT_LIMIT;
  const before = options.cursor ? decodeCursor(options.cursor) : null;
  // One extra row tells whether another page exists without a count query.
  const rows = await listUserAuditLogs(deps.db, userId, before, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    events: page.map(toSecurityEvent),
    next_cursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}
