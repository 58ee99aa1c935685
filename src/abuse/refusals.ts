import { recordAudit, type AuditEntry } from "../audit/audit";
import type { Deps } from "../kernel/deps";
import type { RefusalReport } from "../kernel/objects";

/**
 * Audits a refused request (a throttle or a lock) once per window instead of once per request.
 * The RateLimiter object counts refusals per kind and window and says which one opened the window
 * ({@link RefusalReport}): only that one writes a row, under the id the object chose, with
 * `count: 1`; the object's alarm writes the window's final count into the same row when the window
 * ends. So a burst of refusals costs one D1 write and one more at most, whatever its rate. `entry`
 * is built only for that first refusal, so looking up whose account it is costs nothing either.
 * Without a report (an object that was not asked to count) every refusal is written as before.
 */
export async function recordRefusal(
  deps: Deps,
  report: RefusalReport | undefined,
  entry: () => AuditEntry | Promise<AuditEntry>,
): Promise<void> {
  if (report && !report.first) return;
  const built = await entry();
  if (!report) return recordAudit(deps, built);
  await recordAudit(deps, {
    ...built,
    id: report.id,
    metadata: { ...built.metadata, count: 1, window_seconds: report.windowSeconds },
  });
}
