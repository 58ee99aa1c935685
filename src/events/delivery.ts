import { findEvent, markDelivered, recordFailedAttempt } from "../db/webhook-events";
import type { Config } from "../config";
import type { Db } from "../db/client";
import { log } from "../log";
import type { WebhookMessage } from "./events";
import { webhookHeaders } from "./signature";

/** Must equal `max_retries` of the queue consumer in wrangler.toml: after it, the message goes to the DLQ. */
const MAX_DELIVERY_RETRIES = 10;

/** How long one POST may take before it counts as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;

/** Seconds before attempt `attempt + 1`: 15 s doubling per attempt, at most an hour (about 3 h over 10 retries). */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(15 * 2 ** Math.max(0, attempt - 1), 3600);
}

/** What delivering needs: the outbox, the endpoints' keys, the outbound fetch and the clock. */
interface DeliveryDeps {
  db: Db;
  config: Pick<Config, "webhookEndpoints">;
  fetch: typeof fetch;
  now: () => Date;
}

/**
 * The queue consumer: each message names one outbox row. A row already delivered (a duplicate
 * message, a re-drive that raced the queue) is acked without a POST; otherwise the row's body is
 * POSTed with Standard Webhooks headers. 2xx: delivered, acked. Anything else: the attempt is
 * recorded and the message retried with exponential backoff; after MAX_DELIVERY_RETRIES the
 * queue moves it to the dead-letter queue. Messages are handled one after another, so a batch
 * holding the same id twice POSTs it once.
 */
export async function deliverBatch(deps: DeliveryDeps, batch: MessageBatch<unknown>): Promise<void> {
  for (const message of batch.messages) {
    const id = (message.body as Partial<WebhookMessage> | null)?.id;
    if (typeof id !== "string") {
      log("warn", "event.bad_message", { message_id: message.id });
      message.ack();
      continue;
    }
    const outcome = await deliverOne(deps, id, message.attempts);
    if (outcome === "retry") message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    else message.ack();
  }
}

async function deliverOne(deps: DeliveryDeps, id: string, attempt: number): Promise<"done" | "retry"> {
  const row = await findEvent(deps.db, id);
  if (!row) {
    // Pruned, or written by a batch that failed after sending: nothing to deliver.
    log("warn", "event.unknown", { event_id: id });
    return "done";
  }
  if (row.deliveredAt) return "done";
  const endpoint = deps.config.webhookEndpoints.find((e) => e.url === row.endpointUrl);
  if (!endpoint) {
    await recordFailedAttempt(deps.db, id, { status: null, error: "endpoint no longer configured", nextAttemptAt: null });
    return "done";
  }
  const timestamp = Math.floor(deps.now().getTime() / 1000);
  let status: number | null = null;
  let error: string;
  try {
    const response = await deps.fetch(endpoint.url, {
      method: "POST",
      headers: await webhookHeaders(row.id, timestamp, row.payload, endpoint.keys),
      body: row.payload,
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    status = response.status;
    // The receiver's body is not needed; release the connection.
    await response.body?.cancel();
    if (response.ok) {
      await markDelivered(deps.db, id, deps.now(), status);
      log("info", "event.delivered", { event_id: id, type: row.type, status, attempt });
      return "done";
    }
    error = `HTTP ${status}`;
  } catch (caught) {
    error = caught instanceof Error && caught.name === "TimeoutError" ? "timed out" : "network error";
  }
  const last = attempt > MAX_DELIVERY_RETRIES;
  const nextAttemptAt = last ? null : new Date(deps.now().getTime() + retryDelaySeconds(attempt) * 1000);
  await recordFailedAttempt(deps.db, id, { status, error: last ? `${error}; dead-lettered` : error, nextAttemptAt });
  log("warn", "event.delivery_failed", { event_id: id, type: row.type, status, error, attempt });
  return "retry";
}
