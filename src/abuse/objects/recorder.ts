import type { Bindings } from "../../config";
import { readConfig } from "../../config";
import { recordAudit, type AuditEntry } from "../../audit/audit";
import { setAuditCounts } from "../../db/audit-logs";
import { createDb } from "../../db/client";
import { emitEvents, type NewEvent } from "../../events/events";
import { describeError, log } from "../../log";

/**
 * What the Durable Objects write outside their own storage, and nothing more: the final counts of
 * refusal windows into their audit rows (the RateLimiter), and an announcement as an audit row and
 * events (the AttackMonitor). Built from the object's bindings alone: an object never assembles a
 * request's dependencies (signing keys, replicas, key wrapping) to write a row.
 */
export interface ObjectRecorder {
  /** Best effort: a failure is logged and those windows keep their first count. */
  writeRefusalCounts(windows: { id: string; count: number }[]): Promise<void>;
  /** One audit row (with no client: an object acts for nobody) and its events. */
  announce(entry: AuditEntry, events: NewEvent[]): Promise<void>;
}

export function createRecorder(env: Bindings, waitUntil: (promise: Promise<unknown>) => void): ObjectRecorder {
  const db = createDb(env.DB);
  const context = () => ({
    db,
    config: readConfig(env),
    now: () => new Date(),
    meta: { ip: null, userAgent: null, requestId: crypto.randomUUID() },
    webhooks: (env as Partial<Bindings>).WEBHOOKS,
    waitUntil,
  });
  return {
    async writeRefusalCounts(windows) {
      try {
        await setAuditCounts(db, windows);
      } catch (error) {
        log("warn", "rate_limiter.refusal_count_failed", { windows: windows.length, ...describeError(error) });
      }
    },
    async announce(entry, events) {
      const ctx = context();
      await recordAudit(ctx, entry);
      await emitEvents(ctx, events);
    },
  };
}
