import { recordAudit } from "../audit/audit";
import { listEventsPage, resetForRedelivery } from "../db/webhook-events";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { sendToQueue } from "../events/events";
import { decodeCursor, toPage } from "../pagination";

/** The webhook delivery log for administrators, and manual redelivery. */

export interface DeliveryView {
  id: string;
  type: string;
  endpoint_url: string;
  created_at: string;
  queued_at: string | null;
  delivered_at: string | null;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** `GET /admin/webhook-events`: newest first; `status` delivered or undelivered. */
export async function listDeliveries(
  deps: Deps,
  q: {
    status?: "delivered" | "undelivered" | undefined;
    type?: string | undefined;
    cursor?: string | undefined;
    limit?: number | undefined;
  },
): Promise<{ events: DeliveryView[]; next_cursor: string | null }> {
  const limit = q.limit ?? 50;
  const delivered = q.status === undefined ? undefined : q.status === "delivered";
  const rows = await listEventsPage(deps.db, { delivered, type: q.type, after: q.cursor ? decodeCursor(q.cursor) : null }, limit + 1);
  const { page, nextCursor } = toPage(rows, limit);
  return {
    events: page.map((e) => ({
      id: e.id,
      type: e.type,
      endpoint_url: e.endpointUrl,
      created_at: e.createdAt.toISOString(),
      queued_at: iso(e.queuedAt),
      delivered_at: iso(e.deliveredAt),
      attempts: e.attempts,
      last_status: e.lastStatus,
      last_error: e.lastError,
      next_attempt_at: iso(e.nextAttemptAt),
    })),
    next_cursor: nextCursor,
  };
}

/**
 * `POST /admin/webhook-events/{id}/redeliver`: posts the event again with the same `webhook-id`
 * (receivers that de-duplicate will see a repeat). Queued after the response; the cron re-drives it
 * should the queue be unreachable.
 */
export async function redeliver(deps: Deps, actorUserId: string, id: string): Promise<void> {
  if (!(await resetForRedelivery(deps.db, id))) throw new AppError("not_found", { detail: "No such event." });
  deps.waitUntil(sendToQueue(deps, [id]));
  await recordAudit(deps, { action: "admin.webhook_redelivered", actorUserId, resource: `webhook_event:${id}` });
}
