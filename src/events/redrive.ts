import { findStrandedEventIds } from "../db/webhook-events";
import { sendToQueue, type QueueContext } from "./events";

/** Rows per cron run; more wait for the next run. */
const REDRIVE_LIMIT = 500;
/** A row unqueued this long was left behind by its request (a failed send, an isolate gone). */
const UNQUEUED_GRACE_MS = 60_000;
/** A retry this overdue was lost by the queue (or the queue was unreachable when it was due). */
const OVERDUE_GRACE_MS = 10 * 60_000;

/**
 * The cron's re-drive: puts undelivered events the queue has lost track of back on it. Delivery
 * de-duplicates by id, so re-driving one that is still in flight costs at most a repeated POST.
 */
export async function redriveEvents(deps: QueueContext): Promise<number> {
  const now = deps.now().getTime();
  const ids = await findStrandedEventIds(deps.db, new Date(now - UNQUEUED_GRACE_MS), new Date(now - OVERDUE_GRACE_MS), REDRIVE_LIMIT);
  await sendToQueue(deps, ids);
  return ids.length;
}
