import { auditLogs, type AuditLog } from "../db/schema";
import { log } from "../log";
import type { Db } from "../db/client";

/**
 * What an audit row is stamped with: who asked (the request's client, never trusted for more than
 * the record) and when. The request's dependencies (kernel/deps.ts) have both; an object writing on
 * its own behalf passes a client of nobody.
 */
interface Stamp {
  meta: { ip: string | null; userAgent: string | null; requestId: string };
  now: () => Date;
}

/**
 * Security log: one `audit_logs` row per security-relevant event, plus a structured log line.
 * `metadata` must never carry secrets (passwords, tokens, keys); reasons for failures are kept
 * here, server-side, and never returned to the client that failed.
 */
export type AuditAction =
  | "user.registered"
  | "login.succeeded"
  | "login.failed"
  | "login.new_device"
  | "login.flagged"
  | "login.reverted"
  | "login.throttled"
  | "account.locked"
  | "ip.blocked"
  | "attack.started"
  | "attack.ended"
  | "account.unlocked"
  | "logout"
  | "logout.all"
  | "token.refreshed"
  | "refresh_token.reused"
  | "session.revoked"
  | "session.locked"
  | "password.changed"
  | "password.check_failed"
  | "password.reset_requested"
  | "password.reset"
  | "email.change_requested"
  | "email.changed"
  | "email.change_reverted"
  | "email.revert_links_voided"
  | "device.revoked"
  | "user.deactivated"
  | "user.reactivated"
  | "user.roles_changed"
  | "admin.password_reset"
  | "admin.superuser_granted"
  | "admin.superuser_revoked"
  | "admin.webhook_redelivered"
  | "admin.users_imported"
  | "admin.audit_exported"
  | "email.verified"
  | "api_key.created"
  | "api_key.revoked"
  | "api_key.used_new_ip"
  | "user.updated"
  | "user.deleted"
  | "rate_limited"
  | "mfa.failed"
  | "mfa.throttled"
  | "mfa.abandoned"
  | "mfa.totp_started"
  | "mfa.enabled"
  | "mfa.disabled"
  | "mfa.recovery_codes_regenerated"
  | "mfa.factors_removed"
  | "admin.mfa_reset"
  | "session.stepped_up"
  | "passkey.added"
  | "passkey.removed"
  | "identity.linked"
  | "identity.unlinked"
  | "oauth.client_created"
  | "oauth.client_deleted"
  | "oauth.client_registered"
  | "oauth.consent_given"
  | "oauth.grant_revoked"
  | "oauth.refresh_reused";

export interface AuditEntry {
  action: AuditAction;
  userId?: string | null;
  /** The administrator who acted on `userId`'s account; null when the owner (or nobody) acted. */
  actorUserId?: string | null;
  resource?: string | null;
  metadata?: Record<string, unknown>;
  /** A row id chosen by the caller (an aggregated row the rate limiter updates later); inserted at most once. */
  id?: string;
}

/**
 * Longest user agent kept on a row, and on a row of nobody's (refusals, unknown accounts): those
 * are written for anyone who asks, so they keep only what identifies a client, not what it sends.
 */
const USER_AGENT_MAX = 512;
const ANONYMOUS_USER_AGENT_MAX = 128;
/** The longest textual IPv6 address with a zone id fits; anything longer is not an address. */
const IP_MAX = 64;

/**
 * Metadata keys that name a secret. A caller should never pass one; if it does, the value is
 * replaced before it reaches D1 or the log, as a last line of defence.
 */
const SECRET_KEY = /(^|_)(password|passwd|secret|token|api_key|apikey|hash|pepper|private_key|otp)$/i;
/** Values shaped like a JWT or an API key body are redacted whatever their key. */
const SECRET_VALUE = /^eyJ[\w-]+\.[\w-]+\.|[0-9a-f]{80}$/;

/** Returns metadata with secret-looking entries replaced by "[redacted]", recursively. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 4) return "[truncated]";
  if (typeof value === "string") return SECRET_VALUE.test(value) ? "[redacted]" : value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? "[redacted]" : redactSecrets(v, depth + 1)]));
  }
  return value;
}

/** The `audit_logs` row for `entry`, metadata redacted, stamped with the request's client and time. */
export function auditRow(deps: Stamp, entry: AuditEntry): AuditLog {
  const userId = entry.userId ?? null;
  return {
    id: entry.id ?? crypto.randomUUID(),
    userId,
    actorUserId: entry.actorUserId ?? null,
    action: entry.action,
    resource: entry.resource ?? null,
    ipAddress: deps.meta.ip?.slice(0, IP_MAX) ?? null,
    userAgent: deps.meta.userAgent?.slice(0, userId ? USER_AGENT_MAX : ANONYMOUS_USER_AGENT_MAX) ?? null,
    metadata: entry.metadata ? (redactSecrets(entry.metadata) as Record<string, unknown>) : null,
    createdAt: deps.now(),
  };
}

/** The `audit.<action>` log line of a row that was written. */
export function logAudit(deps: Pick<Stamp, "meta">, row: AuditLog): void {
  log("info", `audit.${row.action}`, {
    request_id: deps.meta.requestId,
    user_id: row.userId,
    actor_user_id: row.actorUserId,
    resource: row.resource,
    ip: row.ipAddress,
    metadata: row.metadata,
  });
}

/**
 * Writes one audit row on its own (one D1 round trip). A service that already writes a D1 batch puts
 * the row into it instead ({@link auditRow}, `auditInsert`, then {@link logAudit}): no extra round
 * trip, and the row exists exactly when the change does.
 */
export async function recordAudit(deps: Stamp & { db: Db }, entry: AuditEntry): Promise<void> {
  const row = auditRow(deps, entry);
  if (!entry.id) return recordAuditRow(deps, row);
  await deps.db.insert(auditLogs).values(row).onConflictDoNothing();
  logAudit(deps, row);
}

/** Writes a row made by {@link auditRow} on its own, and logs it. */
export async function recordAuditRow(deps: Pick<Stamp, "meta"> & { db: Db }, row: AuditLog): Promise<void> {
  await deps.db.insert(auditLogs).values(row);
  logAudit(deps, row);
}
