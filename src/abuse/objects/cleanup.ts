import { isHardLocked, lockoutExpiry, pruneLockout } from "./lockout";
import { nextWindowEnd, refusalsExpiry } from "./refusal-windows";
import { emailCodesExpiry, pruneEmailCodes } from "./email-codes";
import { pruneSignInCodes, signInCodesExpiry } from "./sign-in-codes";
import { pruneSecondFactor, secondFactorExpiry } from "./second-factor";
import { pruneSpread, spreadExpiry } from "./spread";
import { latest, readMeta, writeMeta } from "./storage";
import { pruneWindows, windowsExpiry } from "./windows";

/**
 * When a RateLimiter object's alarm runs: once per idle period, when everything it keeps has expired
 * (so an idle object deletes its storage), brought forward to the end of a refusal window so that
 * window's count is written when it ends. A hard lock never expires by itself.
 */

const ALARM_AT = "alarm_at";

/** Drops everything that has expired (an expired ticket becomes a failure). */
export function prune(sql: SqlStorage, now: number): void {
  pruneWindows(sql, now);
  pruneSpread(sql, now);
  pruneLockout(sql, now);
  pruneSecondFactor(sql, now);
  pruneEmailCodes(sql, now);
  pruneSignInCodes(sql, now);
}

/** When everything stored (other than a hard lock) has expired, or null when nothing expires. */
function cleanupAt(sql: SqlStorage): number | null {
  return latest(
    windowsExpiry(sql),
    lockoutExpiry(sql),
    refusalsExpiry(sql),
    spreadExpiry(sql),
    secondFactorExpiry(sql),
    emailCodesExpiry(sql),
    signInCodesExpiry(sql),
  );
}

/** Whether the object keeps nothing: the alarm may delete its storage. */
export function isEmpty(sql: SqlStorage): boolean {
  return cleanupAt(sql) === null && !isHardLocked(sql);
}

/**
 * Arms the alarm when none is pending; the alarm re-arms itself while data remains. With nothing that
 * expires and nothing lasting (say, after an unlock) it is due now, so even an emptied object does
 * not keep its tables. A refusal window that ends before the pending alarm brings it forward.
 */
export function scheduleCleanup(sql: SqlStorage, storage: DurableObjectStorage, now: number): void {
  const pending = readMeta(sql, ALARM_AT) ?? null;
  const countDue = nextWindowEnd(sql);
  let at: number | null;
  if (pending !== null) {
    if (countDue === null || countDue >= pending) return;
    at = countDue;
  } else {
    at = cleanupAt(sql) ?? (isHardLocked(sql) ? null : now);
    if (at !== null && countDue !== null) at = Math.min(at, countDue);
  }
  if (at === null) return;
  writeMeta(sql, ALARM_AT, at);
  void storage.setAlarm(at);
}

/**
 * The alarm's clock: the scheduled time is a floor for "now" (the alarm never runs before it in
 * production, and tests that trigger it early see the same result). Clears the pending mark.
 */
export function alarmNow(sql: SqlStorage): number {
  const scheduled = readMeta(sql, ALARM_AT) ?? 0;
  sql.exec("DELETE FROM meta WHERE key = ?", ALARM_AT);
  return Math.max(Date.now(), scheduled);
}
