import type { HitResult, RefusalReport, SpreadOptions, SpreadPolicy } from "../../kernel/objects";
import { countRefusal } from "./refusal-windows";
import { ceilSeconds, one, readMeta, writeMeta } from "./storage";
import { TICKET_TTL_MS } from "./lockout";

/**
 * The "one client failing across many identifiers" signal of a per-IP object: a login admits its
 * identifier (hashed) as a pending attempt under a ticket; a failure counts the identifier for the
 * policy's window; at `identifiers` distinct failing identifiers the IP is blocked for
 * `blockSeconds` (`enforce: false` only records the block).
 */
export const SPREAD_SCHEMA = `
CREATE TABLE IF NOT EXISTS spread (
  ticket TEXT PRIMARY KEY,
  identifier TEXT NOT NULL,
  failed INTEGER NOT NULL DEFAULT 0,
  at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

/** Retry-After for a login that waits because pending ones may still start the block. */
const PENDING_RETRY_AFTER = 1;
const BLOCKED_UNTIL = "spread_blocked_until";

/** A running block of this IP: refused (counted into the block's audit row), without counting a hit. */
export function runningBlock(sql: SqlStorage, policy: SpreadPolicy, now: number): Extract<HitResult, { ok: false }> | null {
  const until = readMeta(sql, BLOCKED_UNTIL);
  if (until === undefined || until <= now) return null;
  const retryAfter = ceilSeconds(until - now);
  const limits = [{ name: policy.name, limit: policy.identifiers, window: policy.window, remaining: 0, reset: retryAfter }];
  // The block's refusal window opened with the block and lasts as long: refusals only add to its count.
  const report = countRefusal(sql, "ip.blocked", now, policy.blockSeconds * 1000);
  return { ok: false, retryAfter, blockedBy: policy.name, limits, report };
}

/**
 * A login for an identifier not yet failing here, while failed and pending identifiers already
 * reach the threshold: the pending ones may still start the block, so this one waits (429 with
 * `Retry-After: 1`), and a parallel burst never gets more identifiers evaluated than the block allows.
 * Returns the wait, or null.
 */
export function pendingBlock(sql: SqlStorage, spread: SpreadOptions): { retryAfter: number; blockedBy: string } | null {
  if (spread.identifier === undefined || !spread.policy.enforce) return null;
  const known = sql.exec("SELECT 1 FROM spread WHERE identifier = ? LIMIT 1", spread.identifier).toArray().length > 0;
  if (known) return null;
  const { n } = one<{ n: number }>(sql, "SELECT count(DISTINCT identifier) AS n FROM spread");
  if (n < spread.policy.identifiers) return null;
  return { retryAfter: PENDING_RETRY_AFTER, blockedBy: spread.policy.name };
}

/**
 * The policy's window, kept for the prune: a pending attempt whose outcome never came counts as a
 * failure for that long (see {@link pruneSpread}).
 */
const FAILURE_WINDOW = "spread_failure_window_s";

/** Admits a login's identifier as a pending attempt: the ticket its outcome is settled with. */
export function admitIdentifier(sql: SqlStorage, identifier: string, policy: SpreadPolicy, now: number): string {
  const ticket = crypto.randomUUID();
  sql.exec("INSERT INTO spread (ticket, identifier, at, expires_at) VALUES (?, ?, ?, ?)", ticket, identifier, now, now + TICKET_TTL_MS);
  writeMeta(sql, FAILURE_WINDOW, policy.window);
  return ticket;
}

/**
 * Records the outcome of an admitted login. A failure counts its identifier for `policy.window`;
 * the failure that brings the distinct failing identifiers to `policy.identifiers` starts the block
 * (once: the counted failures are then forgotten) and gets the report whose caller writes the
 * block's audit row. A success only drops the ticket.
 */
export function settleIdentifier(
  sql: SqlStorage,
  ticket: string,
  failed: boolean,
  policy: SpreadPolicy,
  now: number,
): RefusalReport | null {
  const row = sql
    .exec<{ identifier: string }>("DELETE FROM spread WHERE ticket = ? AND failed = 0 RETURNING identifier", ticket)
    .toArray()[0];
  // An unknown ticket expired (a worker that never reported back) and was counted as a failure then.
  if (!row || !failed) return null;
  sql.exec(
    "INSERT INTO spread (ticket, identifier, failed, at, expires_at) VALUES (?, ?, 1, ?, ?)",
    ticket,
    row.identifier,
    now,
    now + policy.window * 1000,
  );
  const { n } = one<{ n: number }>(sql, "SELECT count(DISTINCT identifier) AS n FROM spread WHERE failed = 1");
  if (n < policy.identifiers) return null;
  // The counted failures are spent on this block: they must not start another one when it ends.
  sql.exec("DELETE FROM spread WHERE failed = 1");
  writeMeta(sql, BLOCKED_UNTIL, now + policy.blockSeconds * 1000);
  return countRefusal(sql, "ip.blocked", now, policy.blockSeconds * 1000);
}

/**
 * Drops what has expired. A pending attempt whose outcome never came (its report runs after the
 * login's response, and a worker may die first) counts as a failure, as a lockout ticket does:
 * losing the report must never be a way around the signal. It starts no block by itself; the next
 * settled failure, or the pending check of a new identifier, sees it.
 */
export function pruneSpread(sql: SqlStorage, now: number): void {
  const window = readMeta(sql, FAILURE_WINDOW);
  if (window !== undefined) {
    sql.exec(
      "UPDATE spread SET failed = 1, at = expires_at, expires_at = expires_at + ? WHERE failed = 0 AND expires_at <= ?",
      window * 1000,
      now,
    );
  }
  sql.exec("DELETE FROM spread WHERE expires_at <= ?", now);
  sql.exec("DELETE FROM meta WHERE key = ? AND value <= ?", BLOCKED_UNTIL, now);
}

/** When the last counted attempt or the block expires, or null. */
export function spreadExpiry(sql: SqlStorage): number | null {
  return one<{ t: number | null }>(
    sql,
    "SELECT max(t) AS t FROM (SELECT max(expires_at) AS t FROM spread UNION ALL SELECT value FROM meta WHERE key = ?)",
    BLOCKED_UNTIL,
  ).t;
}
