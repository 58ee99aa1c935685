import { and, desc, eq, inArray, isNotNull, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { webhookEvents, type WebhookEvent } from "./schema";
import { olderThan } from "./keyset";

/** Queries on the events outbox (`webhook_events`). */

export type NewWebhookEvent = Pick<WebhookEvent, "id" | "endpointUrl" | "type" | "payload" | "createdAt">;

/**
 * The INSERT of one event row, for a caller's D1 batch. With `onlyIf`, the row is written only when
 * that condition holds inside the batch (the change it reports was applied).
 */
export function eventInsert(db: Db, row: NewWebhookEvent, onlyIf?: SQL): BatchItem<"sqlite"> {
  if (!onlyIf) return db.insert(webhookEvents).values(row);
  // INSERT … SELECT takes every column in table order: id, endpoint_url, type, payload, created_at,
  // queued_at, delivered_at, attempts, last_status, last_error, next_attempt_at.
  return db
    .insert(webhookEvents)
    .select(
      sql`SELECT ${row.id}, ${row.endpointUrl}, ${row.type}, ${row.payload}, ${row.createdAt.getTime()}, NULL, NULL, 0, NULL, NULL, NULL WHERE ${onlyIf}`,
    );
}

export async function insertEvents(db: Db, rows: NewWebhookEvent[]): Promise<void> {
  const [first, ...rest] = rows.map((row) => eventInsert(db, row));
  if (first) await db.batch([first, ...rest]);
}

export function findEvent(db: Db, id: string): Promise<WebhookEvent | undefined> {
  return db.select().from(webhookEvents).where(eq(webhookEvents.id, id)).get();
}

/**
 * Marks rows as sent to the queue. `next_attempt_at` becomes now: should the queue lose the message,
 * the row is overdue and the cron re-drives it (the consumer moves it on at each attempt).
 */
export async function markQueued(db: Db, ids: string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(webhookEvents)
    .set({ queuedAt: now, nextAttemptAt: now })
    .where(and(inArray(webhookEvents.id, ids), isNull(webhookEvents.deliveredAt)))
    .run();
}

/** Records a delivery; false when another consumer had already recorded one. */
export async function markDelivered(db: Db, id: string, now: Date, status: number): Promise<boolean> {
  const result = await db
    .update(webhookEvents)
    .set({ deliveredAt: now, attempts: sql`${webhookEvents.attempts} + 1`, lastStatus: status, lastError: null, nextAttemptAt: null })
    .where(and(eq(webhookEvents.id, id), isNull(webhookEvents.deliveredAt)))
    .run();
  return result.meta.changes > 0;
}

/** Records a failed attempt; `nextAttemptAt` null: no retry will follow (dead-lettered or dropped). */
export async function recordFailedAttempt(
  db: Db,
  id: string,
  attempt: { status: number | null; error: string; nextAttemptAt: Date | null },
): Promise<void> {
  await db
    .update(webhookEvents)
    .set({
      attempts: sql`${webhookEvents.attempts} + 1`,
      lastStatus: attempt.status,
      lastError: attempt.error,
      nextAttemptAt: attempt.nextAttemptAt,
    })
    .where(and(eq(webhookEvents.id, id), isNull(webhookEvents.deliveredAt)))
    .run();
}

/**
 * Undelivered rows the queue has lost track of: never queued and older than `unqueuedBefore`
 * (the request that wrote them ended before sending), or overdue for a retry the queue should
 * have made by `overdueBefore`.
 */
export async function findStrandedEventIds(db: Db, unqueuedBefore: Date, overdueBefore: Date, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: webhookEvents.id })
    .from(webhookEvents)
    .where(
      and(
        isNull(webhookEvents.deliveredAt),
        or(
          and(isNull(webhookEvents.queuedAt), lt(webhookEvents.createdAt, unqueuedBefore)),
          and(isNotNull(webhookEvents.nextAttemptAt), lt(webhookEvents.nextAttemptAt, overdueBefore)),
        ),
      ),
    )
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/** Deletes events created before `cutoff` (the daily clean-up). */
export async function pruneEvents(db: Db, cutoff: Date, batchSize: number): Promise<number> {
  const result = await db.run(
    sql`DELETE FROM ${webhookEvents} WHERE id IN (SELECT id FROM ${webhookEvents} WHERE ${webhookEvents.createdAt} < ${cutoff.getTime()} LIMIT ${batchSize})`,
  );
  return result.meta.changes;
}

/** The delivery log, newest first, keyset-paged; `delivered` filters on whether a delivery succeeded. */
export function listEventsPage(
  db: Db,
  filter: { delivered?: boolean | undefined; type?: string | undefined; after?: { createdAt: Date; id: string } | null },
  limit: number,
): Promise<WebhookEvent[]> {
  const after = filter.after;
  return db
    .select()
    .from(webhookEvents)
    .where(
      and(
        filter.delivered === undefined
          ? undefined
          : filter.delivered
            ? isNotNull(webhookEvents.deliveredAt)
            : isNull(webhookEvents.deliveredAt),
        filter.type ? eq(webhookEvents.type, filter.type) : undefined,
        olderThan(webhookEvents, after),
      ),
    )
    .orderBy(desc(webhookEvents.createdAt), desc(webhookEvents.id))
    .limit(limit)
    .all();
}

/** Makes a row deliverable again (a manual redelivery): the consumer posts it once more, same id. */
export async function resetForRedelivery(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .update(webhookEvents)
    .set({ deliveredAt: null, queuedAt: null, nextAttemptAt: null, lastError: null })
    .where(eq(webhookEvents.id, id))
    .returning({ id: webhookEvents.id });
  return rows.length > 0;
}
