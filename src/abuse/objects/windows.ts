import type { LimitPolicy } from "../../config/rate-limits";
import type { HitResult, LimitState } from "../../kernel/objects";
import { ceilSeconds, one } from "./storage";

/**
 * Sliding windows: one row per admitted request (`hits`), so a limit is exact at window edges where
 * a fixed window would let twice the limit through. The limits are small, so the log stays a few
 * dozen rows per action.
 */
export const WINDOWS_SCHEMA = `
CREATE TABLE IF NOT EXISTS hits (action TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS hits_by_action ON hits (action, at);
`;

/** The refusal when a policy of `action` has no room, with the longest wait; null when all have room. */
export function checkWindows(
  sql: SqlStorage,
  action: string,
  policies: LimitPolicy[],
  now: number,
): Extract<HitResult, { ok: false }> | null {
  let retryAfter = 0;
  let blockedBy = "";
  for (const policy of policies) {
    const { n } = one<{ n: number }>(sql, "SELECT count(*) AS n FROM hits WHERE action = ? AND at > ?", action, now - policy.window * 1000);
    if (n < policy.limit) continue;
    // The hit whose expiry frees one unit: the (n - limit + 1)-th oldest in the window.
    const { at } = one<{ at: number }>(
      sql,
      "SELECT at FROM hits WHERE action = ? AND at > ? ORDER BY at ASC LIMIT 1 OFFSET ?",
      action,
      now - policy.window * 1000,
      n - policy.limit,
    );
    const wait = ceilSeconds(at + policy.window * 1000 - now);
    if (wait > retryAfter) [retryAfter, blockedBy] = [wait, policy.name];
  }
  return blockedBy ? { ok: false, retryAfter, blockedBy, limits: limitStates(sql, action, policies, now) } : null;
}

/** Counts one admitted request of `action`, kept as long as its longest window. */
export function recordHit(sql: SqlStorage, action: string, policies: LimitPolicy[], now: number): void {
  if (policies.length === 0) return;
  const longest = Math.max(...policies.map((p) => p.window));
  sql.exec("INSERT INTO hits (action, at, expires_at) VALUES (?, ?, ?)", action, now, now + longest * 1000);
}

/** Takes back one hit of `action` counted at `at` (a request withdrawn before it did anything). */
export function withdrawHit(sql: SqlStorage, action: string, at: number): void {
  sql.exec("DELETE FROM hits WHERE rowid = (SELECT rowid FROM hits WHERE action = ? AND at = ? LIMIT 1)", action, at);
}

/** How each limit of `action` stands: the numbers of the `RateLimit` header. */
export function limitStates(sql: SqlStorage, action: string, policies: LimitPolicy[], now: number): LimitState[] {
  return policies.map((policy) => {
    const { n, oldest } = one<{ n: number; oldest: number | null }>(
      sql,
      "SELECT count(*) AS n, min(at) AS oldest FROM hits WHERE action = ? AND at > ?",
      action,
      now - policy.window * 1000,
    );
    const reset = oldest === null ? policy.window : ceilSeconds(oldest + policy.window * 1000 - now);
    return { ...policy, remaining: Math.max(0, policy.limit - n), reset };
  });
}

export function pruneWindows(sql: SqlStorage, now: number): void {
  sql.exec("DELETE FROM hits WHERE expires_at <= ?", now);
}

/** When the last hit expires, or null. */
export function windowsExpiry(sql: SqlStorage): number | null {
  return one<{ t: number | null }>(sql, "SELECT max(expires_at) AS t FROM hits").t;
}
