import type { LockoutPolicy } from "../../config/rate-limits";
import type { LockEvent, LockoutSnapshot } from "../../kernel/objects";
import { one } from "./storage";

/**
 * The consecutive-failure lockout of one login identifier (or one trusted client), with admission
 * tickets: a guess is admitted before the password is checked and its outcome settled after, and
 * admitted guesses whose outcome is not known yet ("pending") count toward the next threshold, so
 * a parallel burst never gets more guesses evaluated than the lockout allows.
 */
export const LOCKOUT_SCHEMA = `
CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lockout (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  failures INTEGER NOT NULL DEFAULT 0,
  forget_at INTEGER,
  locked_until INTEGER,
  hard_locked INTEGER NOT NULL DEFAULT 0,
  lock_event TEXT,
  policy TEXT NOT NULL
);
`;

/** An admitted guess that is never reported (the worker died) counts as a failure after this. */
export const TICKET_TTL_MS = 30_000;

interface LockoutRow extends Record<string, SqlStorageValue> {
  failures: number;
  /** When the failure count is forgotten if nothing else happens (unless hard locked). */
  forget_at: number | null;
  locked_until: number | null;
  hard_locked: number;
  lock_event: string | null;
  policy: string;
}

/** A lock that stops a guess before any limit is looked at. */
export type RunningLock = { tier: "hard"; retryAfterMs: null } | { tier: "soft"; retryAfterMs: number };

/** The lockout row, created on first use; it remembers the policy so the alarm can apply it. */
export function useLockout(sql: SqlStorage, policy: LockoutPolicy): void {
  sql.exec(
    "INSERT INTO lockout (id, policy) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET policy = excluded.policy",
    JSON.stringify(policy),
  );
}

/** The lock that stops a guess now: hard, or a soft lock still running. */
export function runningLock(sql: SqlStorage, now: number): RunningLock | null {
  const row = one<LockoutRow>(sql, "SELECT * FROM lockout");
  if (row.hard_locked) return { tier: "hard", retryAfterMs: null };
  if (row.locked_until !== null && row.locked_until > now) return { tier: "soft", retryAfterMs: row.locked_until - now };
  return null;
}

/** Whether the failures and the guesses still pending already reach the next threshold. */
export function pendingMayLock(sql: SqlStorage, policy: LockoutPolicy): boolean {
  const row = one<LockoutRow>(sql, "SELECT * FROM lockout");
  const pending = one<{ n: number }>(sql, "SELECT count(*) AS n FROM tickets").n;
  const threshold = row.failures < policy.softAfter ? policy.softAfter : policy.hardAfter;
  return row.failures + pending >= threshold;
}

/** Admits one guess: its ticket. */
export function issueTicket(sql: SqlStorage, now: number): string {
  const ticket = crypto.randomUUID();
  sql.exec("INSERT INTO tickets (id, expires_at) VALUES (?, ?)", ticket, now + TICKET_TTL_MS);
  return ticket;
}

/** Settles a ticket: success clears the failure count, failure adds one. Returns the failures after it. */
export function settleTicket(sql: SqlStorage, ticket: string, success: boolean, now: number): number {
  const known = sql.exec("DELETE FROM tickets WHERE id = ? RETURNING id", ticket).toArray().length > 0;
  // An unknown ticket expired and was already counted as a failure: never count it twice.
  if (known && success) sql.exec("UPDATE lockout SET failures = 0, forget_at = NULL WHERE hard_locked = 0");
  else if (known) addFailures(sql, 1, now);
  return sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0]?.failures ?? 0;
}

/**
 * Withdraws an admitted guess whose password was never checked (the login was refused by an earlier
 * step): the ticket and the hit it was admitted with are gone as if it had never come. A ticket
 * that already expired was counted as a failure, and stays counted: nothing here can tell that it
 * was not checked. Returns whether the ticket was still pending.
 */
export function releaseTicket(sql: SqlStorage, ticket: string): boolean {
  return sql.exec("DELETE FROM tickets WHERE id = ? RETURNING id", ticket).toArray().length > 0;
}

/** Clears the failure count and any lock (password reset, administrator). */
export function unlock(sql: SqlStorage, now: number): { wasLocked: boolean; failures: number } {
  const row = sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0];
  sql.exec("UPDATE lockout SET failures = 0, forget_at = NULL, locked_until = NULL, hard_locked = 0, lock_event = NULL");
  if (!row) return { wasLocked: false, failures: 0 };
  return { wasLocked: row.hard_locked === 1 || (row.locked_until !== null && row.locked_until > now), failures: row.failures };
}

/** The lockout state, for tests and operators. */
export function inspectLockout(sql: SqlStorage): LockoutSnapshot {
  const row = sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0];
  return {
    failures: row?.failures ?? 0,
    pending: one<{ n: number }>(sql, "SELECT count(*) AS n FROM tickets").n,
    lockedUntil: row?.locked_until ?? null,
    hardLocked: row?.hard_locked === 1,
  };
}

/** Returns a lock that began and was not yet announced, and marks it announced (exactly once). */
export function takeLockEvent(sql: SqlStorage): LockEvent {
  const event = sql.exec<{ lock_event: string | null }>("SELECT lock_event FROM lockout").toArray()[0]?.lock_event;
  if (!event) return null;
  sql.exec("UPDATE lockout SET lock_event = NULL");
  return event === "hard" ? "hard" : "soft";
}

/** Expired tickets become failures; a finished soft lock and stale failures end. */
export function pruneLockout(sql: SqlStorage, now: number): void {
  const expired = sql.exec("DELETE FROM tickets WHERE expires_at <= ? RETURNING id", now).toArray().length;
  if (expired > 0) addFailures(sql, expired, now);
  sql.exec("UPDATE lockout SET locked_until = NULL WHERE locked_until <= ?", now);
  sql.exec("UPDATE lockout SET failures = 0, forget_at = NULL WHERE hard_locked = 0 AND forget_at <= ? AND locked_until IS NULL", now);
}

/** When the last ticket, lock or failure count expires (never a hard lock), or null. */
export function lockoutExpiry(sql: SqlStorage): number | null {
  return one<{ t: number | null }>(
    sql,
    `SELECT max(t) AS t FROM (
       SELECT max(expires_at) AS t FROM tickets
       UNION ALL SELECT locked_until FROM lockout
       UNION ALL SELECT forget_at FROM lockout WHERE hard_locked = 0
     )`,
  ).t;
}

/** State that never expires by itself: a hard lock. */
export function isHardLocked(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM lockout WHERE hard_locked = 1").toArray().length > 0;
}

function addFailures(sql: SqlStorage, count: number, now: number): void {
  const row = sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0];
  if (!row) return;
  const policy = JSON.parse(row.policy) as LockoutPolicy;
  const after = row.failures + count;
  sql.exec("UPDATE lockout SET failures = ?, forget_at = ?", after, now + policy.forgetAfterSeconds * 1000);
  if (row.hard_locked) return;
  if (after >= policy.hardAfter) {
    sql.exec("UPDATE lockout SET hard_locked = 1, locked_until = NULL, lock_event = 'hard'");
  } else if (row.failures < policy.softAfter && after >= policy.softAfter) {
    sql.exec("UPDATE lockout SET locked_until = ?, lock_event = 'soft'", now + policy.softLockSeconds * 1000);
  }
}
