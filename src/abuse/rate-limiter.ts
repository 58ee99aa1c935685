import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../config";
import { setAuditCounts } from "../db/audit-logs";
import { createDb } from "../db/client";
import { describeError, log } from "../log";
import type { LimitPolicy, LockoutPolicy } from "../config/rate-limits";
import type {
  AdmitResult,
  HitResult,
  LimiterRpc,
  LimitState,
  LockEvent,
  LockoutSnapshot,
  RefusalReport,
  SettleResult,
  SpreadOptions,
  SpreadPolicy,
  SpreadSettleResult,
} from "../kernel/objects";

/** An admitted guess that is never reported (the worker died) counts as a failure after this. */
export const TICKET_TTL_MS = 30_000;
/** Retry-After for a guess refused because earlier admitted guesses may still lock the account. */
const PENDING_RETRY_AFTER = 1;
/**
 * Refusals of one kind are audited as one row per this window, opened by the first refusal: an
 * attacker's request rate changes the row's count, never the number of D1 writes.
 */
const REFUSAL_WINDOW_MS = 3_600_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hits (action TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS hits_by_action ON hits (action, at);
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
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spread (
  ticket TEXT PRIMARY KEY,
  identifier TEXT NOT NULL,
  failed INTEGER NOT NULL DEFAULT 0,
  at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
  kind TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  audit_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (kind, started_at)
);
`;

interface LockoutRow extends Record<string, SqlStorageValue> {
  failures: number;
  /** When the failure count is forgotten if nothing else happens (unless hard locked). */
  forget_at: number | null;
  locked_until: number | null;
  hard_locked: number;
  lock_event: string | null;
  policy: string;
}

/**
 * Exact rate limits and login lockout for one key: one object per client IP (`ip:<addr>`) and one
 * per login identifier (`account:<email or username>`), named by src/abuse/limits.ts.
 *
 * Every method is synchronous over `ctx.storage.sql`, so the object's input gate runs each one to
 * completion before the next: a check-and-increment cannot interleave with another, and parallel
 * bursts are admitted exactly. Windows are sliding logs (one row per admitted request), which is
 * exact at window edges where a fixed window would let twice the limit through; the limits are
 * small, so the log stays a few dozen rows. Callers pass `now` (ms) so one clock, the worker's
 * `deps.now()`, drives both the policy and the tests; only the alarm reads the object's own clock.
 */
export class RateLimiter extends DurableObject<Bindings> implements LimiterRpc {
  private schemaReady = false;

  /**
   * Counts one request of `action` if every policy has room; refuses without counting otherwise.
   * With `report`, a refusal is also counted for the audit trail (see {@link RefusalReport}).
   */
  hit(action: string, policies: LimitPolicy[], now: number, report = false, spread?: SpreadOptions): HitResult {
    this.prepare(now);
    const ipBlock = spread?.policy.enforce ? this.spreadBlock(spread.policy, now) : null;
    if (ipBlock) {
      this.scheduleCleanup(now);
      return ipBlock;
    }
    const blocked = this.check(action, policies, now) ?? (spread ? this.spreadPending(spread, policies, action, now) : null);
    if (blocked) {
      if (!report) return blocked;
      const counted = { ...blocked, report: this.countRefusal(`rate_limited:${action}`, now) };
      this.scheduleCleanup(now);
      return counted;
    }
    this.record(action, policies, now);
    let ticket: string | undefined;
    if (spread?.identifier !== undefined) {
      ticket = crypto.randomUUID();
      this.sql.exec(
        "INSERT INTO spread (ticket, identifier, at, expires_at) VALUES (?, ?, ?, ?)",
        ticket,
        spread.identifier,
        now,
        now + TICKET_TTL_MS,
      );
    }
    this.scheduleCleanup(now);
    return { ok: true, limits: this.states(action, policies, now), ...(ticket ? { ticket } : {}) };
  }

  /**
   * Records the outcome of a login admitted with a spread ticket. A failure counts its identifier
   * for `policy.window`; the failure that brings the distinct failing identifiers to
   * `policy.identifiers` starts the block (once: the counted failures are then forgotten) and
   * gets the report whose caller writes the block's audit row. A success only drops the ticket.
   */
  settleSpread(ticket: string, failed: boolean, policy: SpreadPolicy, now: number): SpreadSettleResult {
    this.prepare(now);
    const row = this.sql.exec<{ identifier: string }>("DELETE FROM spread WHERE ticket = ? RETURNING identifier", ticket).toArray()[0];
    // An unknown ticket expired (a worker that never reported back): its attempt is not counted.
    if (row && failed) {
      this.sql.exec(
        "INSERT INTO spread (ticket, identifier, failed, at, expires_at) VALUES (?, ?, 1, ?, ?)",
        ticket,
        row.identifier,
        now,
        now + policy.window * 1000,
      );
    }
    const blockStarted = row && failed ? this.startSpreadBlock(policy, now) : null;
    this.scheduleCleanup(now);
    return { blockStarted };
  }

  /**
   * Admits one password guess for this identifier before the password is checked. Admitted guesses
   * whose outcome is not known yet ("pending") count toward the lockout threshold, so a parallel
   * burst can never get more guesses evaluated than the next lock allows.
   */
  admitGuess(action: string, policies: LimitPolicy[], lockout: LockoutPolicy, now: number): AdmitResult {
    this.prepare(now, lockout);
    const row = this.one<LockoutRow>("SELECT * FROM lockout");
    const lockEvent = this.takeLockEvent();
    const refuse = <R extends "locked" | "rate_limited">(reason: R) => {
      const report = this.countRefusal(`login.throttled:${reason}`, now);
      this.scheduleCleanup(now);
      return { ok: false as const, reason, lockEvent, report };
    };
    if (row.hard_locked) return { ...refuse("locked"), tier: "hard", retryAfter: null };
    if (row.locked_until !== null && row.locked_until > now) {
      return { ...refuse("locked"), tier: "soft", retryAfter: ceilSeconds(row.locked_until - now) };
    }
    const blocked = this.check(action, policies, now);
    if (blocked) return { ...blocked, ...refuse("rate_limited") };
    const pending = this.one<{ n: number }>("SELECT count(*) AS n FROM tickets").n;
    const threshold = row.failures < lockout.softAfter ? lockout.softAfter : lockout.hardAfter;
    if (row.failures + pending >= threshold) {
      return { ...refuse("locked"), tier: "pending", retryAfter: PENDING_RETRY_AFTER };
    }
    this.record(action, policies, now);
    const ticket = crypto.randomUUID();
    this.sql.exec("INSERT INTO tickets (id, expires_at) VALUES (?, ?)", ticket, now + TICKET_TTL_MS);
    this.scheduleCleanup(now);
    return { ok: true, ticket, lockEvent };
  }

  /** Records the outcome of an admitted guess: success clears the failure count, failure adds one. */
  settleGuess(ticket: string, success: boolean, now: number): SettleResult {
    this.prepare(now);
    const known = this.sql.exec("DELETE FROM tickets WHERE id = ? RETURNING id", ticket).toArray().length > 0;
    // An unknown ticket expired and was already counted as a failure: never count it twice.
    if (known && success) {
      this.sql.exec("UPDATE lockout SET failures = 0, forget_at = NULL WHERE hard_locked = 0");
    } else if (known) {
      this.addFailures(1, now);
    }
    this.scheduleCleanup(now);
    const row = this.sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0];
    return { failures: row?.failures ?? 0, lockEvent: this.takeLockEvent() };
  }

  /** Clears the failure count and any lock (password reset, administrator). */
  unlock(now: number): { wasLocked: boolean; failures: number } {
    this.prepare(now);
    const row = this.sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0];
    this.sql.exec("UPDATE lockout SET failures = 0, forget_at = NULL, locked_until = NULL, hard_locked = 0, lock_event = NULL");
    this.scheduleCleanup(now);
    if (!row) return { wasLocked: false, failures: 0 };
    const wasLocked = row.hard_locked === 1 || (row.locked_until !== null && row.locked_until > now);
    return { wasLocked, failures: row.failures };
  }

  /** The lockout state, for tests and operators. */
  inspect(now: number): LockoutSnapshot {
    this.prepare(now);
    const row = this.sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0];
    this.scheduleCleanup(now);
    return {
      failures: row?.failures ?? 0,
      pending: this.one<{ n: number }>("SELECT count(*) AS n FROM tickets").n,
      lockedUntil: row?.locked_until ?? null,
      hardLocked: row?.hard_locked === 1,
    };
  }

  /**
   * Writes the final count of every refusal window that has ended into its audit row, and drops
   * what no longer matters; an object left with nothing deletes its storage entirely. A hard lock
   * is kept (it ends only by `unlock`). The scheduled time is a floor for "now": the alarm never
   * runs before it in production, and tests that trigger it early see the same result.
   */
  override async alarm(): Promise<void> {
    this.ensureSchema();
    const scheduled = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'alarm_at'").toArray()[0]?.value ?? 0;
    this.sql.exec("DELETE FROM meta WHERE key = 'alarm_at'");
    const now = Math.max(Date.now(), scheduled);
    this.prune(now);
    // Taken out before the D1 write: requests may run while it is under way, and a refusal arriving
    // then opens a new window instead of counting into one whose total is being written.
    const ended = this.sql
      .exec<{ audit_id: string; count: number }>("DELETE FROM refusals WHERE ends_at <= ? RETURNING audit_id, count", now)
      .toArray()
      .filter((r) => r.count > 1);
    if (ended.length > 0) await this.writeRefusalCounts(ended);
    if (this.cleanupAt() === null && !this.hasLasting()) {
      this.schemaReady = false;
      await this.ctx.storage.deleteAll();
      return;
    }
    this.scheduleCleanup(now);
  }

  /** A running block of this IP: refused (counted into the block's audit row), without counting a hit. */
  private spreadBlock(policy: SpreadPolicy, now: number): Extract<HitResult, { ok: false }> | null {
    const until = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'spread_blocked_until'").toArray()[0]?.value;
    if (until === undefined || until <= now) return null;
    const retryAfter = ceilSeconds(until - now);
    const limits = [{ name: policy.name, limit: policy.identifiers, window: policy.window, remaining: 0, reset: retryAfter }];
    // The block's refusal window opened with the block and lasts as long: refusals only add to its count.
    const report = this.countRefusal("ip.blocked", now, policy.blockSeconds * 1000);
    return { ok: false, retryAfter, blockedBy: policy.name, limits, report };
  }

  /**
   * A login for an identifier not yet failing here, while failed and pending identifiers already
   * reach the threshold: the pending ones may still start the block, so this one waits (429 with
   * `Retry-After: 1`), and a parallel burst never gets more identifiers evaluated than the block allows.
   */
  private spreadPending(spread: SpreadOptions, policies: LimitPolicy[], action: string, now: number) {
    if (spread.identifier === undefined || !spread.policy.enforce) return null;
    const known = this.sql.exec("SELECT 1 FROM spread WHERE identifier = ? LIMIT 1", spread.identifier).toArray().length > 0;
    if (known) return null;
    const { n } = this.one<{ n: number }>("SELECT count(DISTINCT identifier) AS n FROM spread");
    if (n < spread.policy.identifiers) return null;
    return {
      ok: false as const,
      retryAfter: PENDING_RETRY_AFTER,
      blockedBy: spread.policy.name,
      limits: this.states(action, policies, now),
    };
  }

  /** Starts the block when the distinct failing identifiers reach the threshold; the report of its audit row. */
  private startSpreadBlock(policy: SpreadPolicy, now: number): RefusalReport | null {
    const { n } = this.one<{ n: number }>("SELECT count(DISTINCT identifier) AS n FROM spread WHERE failed = 1");
    if (n < policy.identifiers) return null;
    const until = now + policy.blockSeconds * 1000;
    // The counted failures are spent on this block: they must not start another one when it ends.
    this.sql.exec("DELETE FROM spread WHERE failed = 1");
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('spread_blocked_until', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      until,
    );
    return this.countRefusal("ip.blocked", now, policy.blockSeconds * 1000);
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /**
   * Counts one refusal of `kind` in its open window, opening one if none is (the first refusal of
   * a window is the one whose caller writes the audit row).
   */
  private countRefusal(kind: string, now: number, windowMs = REFUSAL_WINDOW_MS): RefusalReport {
    const windowSeconds = windowMs / 1000;
    const open = this.sql
      .exec<{ audit_id: string }>(
        "UPDATE refusals SET count = count + 1 WHERE kind = ? AND started_at <= ? AND ends_at > ? RETURNING audit_id",
        kind,
        now,
        now,
      )
      .toArray()[0];
    if (open) return { id: open.audit_id, first: false, windowSeconds };
    const id = crypto.randomUUID();
    this.sql.exec(
      "INSERT INTO refusals (kind, started_at, ends_at, audit_id, count) VALUES (?, ?, ?, ?, 1)",
      kind,
      now,
      now + windowMs,
      id,
    );
    return { id, first: true, windowSeconds };
  }

  /** One D1 batch per alarm: at most one statement per ended window. Best effort: a failure is logged. */
  private async writeRefusalCounts(windows: { audit_id: string; count: number }[]): Promise<void> {
    try {
      await setAuditCounts(
        createDb(this.env.DB),
        windows.map((w) => ({ id: w.audit_id, count: w.count })),
      );
    } catch (error) {
      log("warn", "rate_limiter.refusal_count_failed", { windows: windows.length, ...describeError(error) });
    }
  }

  private one<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): T {
    return this.sql.exec<T>(query, ...bindings).one();
  }

  /** Storage may have been wiped by a previous alarm, so the schema is (re)created lazily. */
  private ensureSchema(): void {
    if (this.schemaReady) return;
    this.sql.exec(SCHEMA);
    this.schemaReady = true;
  }

  private prepare(now: number, lockout?: LockoutPolicy): void {
    this.ensureSchema();
    if (lockout) this.lockoutRow(lockout);
    this.prune(now);
  }

  /** The lockout row, created on first use; it remembers the policy so the alarm can apply it. */
  private lockoutRow(lockout: LockoutPolicy): LockoutRow {
    const policy = JSON.stringify(lockout);
    this.sql.exec("INSERT INTO lockout (id, policy) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET policy = excluded.policy", policy);
    return this.one<LockoutRow>("SELECT * FROM lockout");
  }

  private storedPolicy(): { row: LockoutRow; policy: LockoutPolicy } | null {
    const row = this.sql.exec<LockoutRow>("SELECT * FROM lockout").toArray()[0];
    return row ? { row, policy: JSON.parse(row.policy) as LockoutPolicy } : null;
  }

  /** Expired hits go; expired tickets become failures; a finished soft lock and stale failures end. */
  private prune(now: number): void {
    this.sql.exec("DELETE FROM hits WHERE expires_at <= ?", now);
    this.sql.exec("DELETE FROM spread WHERE expires_at <= ?", now);
    this.sql.exec("DELETE FROM meta WHERE key = 'spread_blocked_until' AND value <= ?", now);
    const expired = this.sql.exec("DELETE FROM tickets WHERE expires_at <= ? RETURNING id", now).toArray().length;
    if (expired > 0) this.addFailures(expired, now);
    this.sql.exec("UPDATE lockout SET locked_until = NULL WHERE locked_until <= ?", now);
    this.sql.exec(
      "UPDATE lockout SET failures = 0, forget_at = NULL WHERE hard_locked = 0 AND forget_at <= ? AND locked_until IS NULL",
      now,
    );
  }

  private addFailures(count: number, now: number): void {
    const state = this.storedPolicy();
    if (!state) return;
    const { row, policy } = state;
    const before = row.failures;
    const after = before + count;
    this.sql.exec("UPDATE lockout SET failures = ?, forget_at = ?", after, now + policy.forgetAfterSeconds * 1000);
    if (row.hard_locked) return;
    if (after >= policy.hardAfter) {
      this.sql.exec("UPDATE lockout SET hard_locked = 1, locked_until = NULL, lock_event = 'hard'");
    } else if (before < policy.softAfter && after >= policy.softAfter) {
      this.sql.exec("UPDATE lockout SET locked_until = ?, lock_event = 'soft'", now + policy.softLockSeconds * 1000);
    }
  }

  /** Returns a lock that began and was not yet announced, and marks it announced (exactly once). */
  private takeLockEvent(): LockEvent {
    const event = this.sql.exec<{ lock_event: string | null }>("SELECT lock_event FROM lockout").toArray()[0]?.lock_event;
    if (!event) return null;
    this.sql.exec("UPDATE lockout SET lock_event = NULL");
    return event === "hard" ? "hard" : "soft";
  }

  private check(action: string, policies: LimitPolicy[], now: number): Extract<HitResult, { ok: false }> | null {
    let retryAfter = 0;
    let blockedBy = "";
    for (const policy of policies) {
      const { n } = this.one<{ n: number }>(
        "SELECT count(*) AS n FROM hits WHERE action = ? AND at > ?",
        action,
        now - policy.window * 1000,
      );
      if (n < policy.limit) continue;
      // The hit whose expiry frees one unit: the (n - limit + 1)-th oldest in the window.
      const { at } = this.one<{ at: number }>(
        "SELECT at FROM hits WHERE action = ? AND at > ? ORDER BY at ASC LIMIT 1 OFFSET ?",
        action,
        now - policy.window * 1000,
        n - policy.limit,
      );
      const wait = ceilSeconds(at + policy.window * 1000 - now);
      if (wait > retryAfter) [retryAfter, blockedBy] = [wait, policy.name];
    }
    return blockedBy ? { ok: false, retryAfter, blockedBy, limits: this.states(action, policies, now) } : null;
  }

  private record(action: string, policies: LimitPolicy[], now: number): void {
    if (policies.length === 0) return;
    const longest = Math.max(...policies.map((p) => p.window));
    this.sql.exec("INSERT INTO hits (action, at, expires_at) VALUES (?, ?, ?)", action, now, now + longest * 1000);
  }

  private states(action: string, policies: LimitPolicy[], now: number): LimitState[] {
    return policies.map((policy) => {
      const since = now - policy.window * 1000;
      const { n, oldest } = this.one<{ n: number; oldest: number | null }>(
        "SELECT count(*) AS n, min(at) AS oldest FROM hits WHERE action = ? AND at > ?",
        action,
        since,
      );
      const reset = oldest === null ? policy.window : ceilSeconds(oldest + policy.window * 1000 - now);
      return { ...policy, remaining: Math.max(0, policy.limit - n), reset };
    });
  }

  /** When everything stored (other than a hard lock) has expired, or null when nothing expires. */
  private cleanupAt(): number | null {
    const { t } = this.one<{ t: number | null }>(
      `SELECT max(t) AS t FROM (
         SELECT max(expires_at) AS t FROM hits
         UNION ALL SELECT max(expires_at) FROM tickets
         UNION ALL SELECT locked_until FROM lockout
         UNION ALL SELECT forget_at FROM lockout WHERE hard_locked = 0
         UNION ALL SELECT max(ends_at) FROM refusals
       )`,
    );
    // SQLite here allows few terms in a compound SELECT: the spread signal's expiries are read apart.
    const spread = this.one<{ t: number | null }>(
      "SELECT max(t) AS t FROM (SELECT max(expires_at) AS t FROM spread UNION ALL SELECT value FROM meta WHERE key = 'spread_blocked_until')",
    ).t;
    return t === null ? spread : spread === null ? t : Math.max(t, spread);
  }

  /** State that never expires by itself: a hard lock. */
  private hasLasting(): boolean {
    return this.sql.exec("SELECT 1 FROM lockout WHERE hard_locked = 1").toArray().length > 0;
  }

  /**
   * One alarm per idle period: set when none is pending; the alarm re-arms itself while data
   * remains. With nothing that expires and nothing lasting (say, after an unlock) it is due now,
   * so even an emptied object does not keep its tables. A refusal window that ends before the
   * pending alarm brings it forward, so the window's count is written when the window ends.
   */
  private scheduleCleanup(now: number): void {
    const pending = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'alarm_at'").toArray()[0]?.value ?? null;
    const countDue = this.one<{ t: number | null }>("SELECT min(ends_at) AS t FROM refusals").t;
    let at: number | null;
    if (pending !== null) {
      if (countDue === null || countDue >= pending) return;
      at = countDue;
    } else {
      at = this.cleanupAt() ?? (this.hasLasting() ? null : now);
      if (at !== null && countDue !== null) at = Math.min(at, countDue);
    }
    if (at === null) return;
    this.sql.exec("INSERT INTO meta (key, value) VALUES ('alarm_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", at);
    void this.ctx.storage.setAlarm(at);
  }
}

function ceilSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
