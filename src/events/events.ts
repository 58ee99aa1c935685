import { insertEvents, markQueued, type NewWebhookEvent } from "../db/webhook-events";
import type { Config } from "../config";
import type { Db } from "../db/client";

/** What writing and queueing events needs; the request's dependencies (kernel/deps.ts) have it all. */
interface EventContext {
  config: Pick<Config, "webhookEndpoints">;
  now: () => Date;
}

/** The events queue's producer (optional at run time: the cron re-drives what it never got). */
export interface QueueContext {
  db: Db;
  webhooks: Queue | undefined;
  now: () => Date;
}
import { describeError, log } from "../log";
import type { EventType } from "../config/webhooks";

/**
 * What an event says. Ids, the address where it matters, and why: never a secret, a token, a hash
 * or an IP address (receivers log bodies).
 */
type EventData = Record<string, string | number | boolean | null | string[]>;

/** What a service reports: a type and its data (ids, the address where relevant, a reason). */
export interface NewEvent {
  type: EventType;
  data: EventData;
}

/** The queue message: only the id; the consumer reads the row, so a message never goes stale. */
export interface WebhookMessage {
  id: string;
}

/**
 * The outbox rows for `events`: one per event and endpoint that wants its type, with the exact
 * body that will be signed. None when no endpoint is configured.
 */
export function eventRows(deps: EventContext, events: NewEvent[]): NewWebhookEvent[] {
  const now = deps.now();
  const rows: NewWebhookEvent[] = [];
  for (const event of events) {
    const payload = JSON.stringify({ type: event.type, timestamp: now.toISOString(), data: event.data });
    for (const endpoint of deps.config.webhookEndpoints) {
      if (endpoint.events && !endpoint.events.includes(event.type)) continue;
      rows.push({
        id: `msg_${crypto.randomUUID().replaceAll("-", "")}`,
        endpointUrl: endpoint.url,
        type: event.type,
        payload,
        createdAt: now,
      });
    }
  }
  return rows;
}

/**
 * Records events right after the change they report, for changes that are not one D1 batch (a
 * profile edit, a verification, a revocation, a lockout). Not atomic with the change: if this write
 * fails the change stands and the event is lost (logged as `event.lost`); the request does not fail.
 */
export async function emitEvents(
  deps: EventContext & QueueContext & { waitUntil: (promise: Promise<unknown>) => void },
  events: NewEvent[],
): Promise<void> {
  const rows = eventRows(deps, events);
  if (rows.length === 0) return;
  try {
    await insertEvents(deps.db, rows);
  } catch (error) {
    log("error", "event.lost", { types: events.map((e) => e.type), ...describeError(error) });
    return;
  }
  enqueueEvents(deps, rows);
}

/**
 * After the response, sends the ids to the queue and marks the rows queued. A failure here loses
 * nothing: rows still unqueued a minute later are re-driven by the cron.
 */
export function enqueueEvents(deps: QueueContext & { waitUntil: (promise: Promise<unknown>) => void }, rows: { id: string }[]): void {
  if (rows.length === 0) return;
  deps.waitUntil(
    sendToQueue(
      deps,
      rows.map((r) => r.id),
    ),
  );
}

/** Sends ids to the queue and marks them queued; failures are logged, the cron re-drives. */
export async function sendToQueue(deps: QueueContext, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  try {
    if (!deps.webhooks) throw new Error("no WEBHOOKS queue binding");
    // sendBatch takes at most 100 messages.
    for (let i = 0; i < ids.length; i += 100) {
      await deps.webhooks.sendBatch(ids.slice(i, i + 100).map((id): MessageSendRequest<WebhookMessage> => ({ body: { id } })));
    }
    await markQueued(deps.db, ids, deps.now());
  } catch (error) {
    log("warn", "event.queue_failed", { count: ids.length, ...describeError(error) });
  }
}
