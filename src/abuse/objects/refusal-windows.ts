import type { RefusalReport } from "../../kernel/objects";
import { one } from "./storage";

/**
 * Refusals are audited as one row per kind and window instead of one per request: the first refusal
 * of a window gets a report whose caller writes the row (under the id chosen here, with `count: 1`),
 * later ones only add to the count, and the object's alarm writes the final count into the row when
 * the window ends. An attacker's request rate changes the row's count, never the number of D1 writes.
 */
export const REFUSALS_SCHEMA = `
CREATE TABLE IF NOT EXISTS refusals (
  kind TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  audit_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (kind, started_at)
);
`;

/** The window of refusals: an hour. */
const REFUSAL_WINDOW_MS = 3_600_000;

/** Counts one refusal of `kind` in its open window, opening one if none is. */
export function countRefusal(sql: SqlStorage, kind: string, now: number, windowMs = REFUSAL_WINDOW_MS): RefusalReport {
  const windowSeconds = windowMs / 1000;
  const open = sql
    .exec<{ audit_id: string }>(
      "UPDATE refusals SET count = count + 1 WHERE kind = ? AND started_at <= ? AND ends_at > ? RETURNING audit_id",
      kind,
      now,
      now,
    )
    .toArray()[0];
  if (open) return { id: open.audit_id, first: false, windowSeconds };
  const id = crypto.randomUUID();
  sql.exec("INSERT INTO refusals (kind, started_at, ends_at, audit_id, count) VALUES (?, ?, ?, ?, 1)", kind, now, now + windowMs, id);
  return { id, first: true, windowSeconds };
}

/**
 * Takes out the windows that have ended, with the counts their rows must get (only those with more
 * than the first refusal). Taken out before the D1 write: a refusal arriving while it is under way
 * opens a new window instead of counting into one whose total is being written.
 */
export function takeEndedWindows(sql: SqlStorage, now: number): { id: string; count: number }[] {
  return sql
    .exec<{ audit_id: string; count: number }>("DELETE FROM refusals WHERE ends_at <= ? RETURNING audit_id, count", now)
    .toArray()
    .filter((r) => r.count > 1)
    .map((r) => ({ id: r.audit_id, count: r.count }));
}

/** When the next window ends (its count is due), or null. */
export function nextWindowEnd(sql: SqlStorage): number | null {
  return one<{ t: number | null }>(sql, "SELECT min(ends_at) AS t FROM refusals").t;
}

/** When the last window ends, or null. */
export function refusalsExpiry(sql: SqlStorage): number | null {
  return one<{ t: number | null }>(sql, "SELECT max(ends_at) AS t FROM refusals").t;
}
