import { inArray, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { findCause } from "../errors";
import { auditInsert, auditInsertIf } from "./audit-logs";
import type { Db } from "./client";
import { auditLogs, batchFences, webhookEvents, type AuditLog } from "./schema";
import { eventInsert, type NewWebhookEvent } from "./webhook-events";

/**
 * The one write path of a change: services add statements, audit rows and event rows to a unit of
 * work, and `commit()` writes them as one D1 batch (one transaction, one round trip). Only after it
 * committed are the audit rows logged and the events queued (the hooks given by the caller: see
 * kernel/deps.ts), so a log line or a webhook never reports a change that did not happen, and a
 * change never happens without its audit row and its events.
 *
 * A fence makes the batch apply only while a condition holds on the primary (say, the password
 * hash a login checked on a replica is still the account's): if it does not, nothing is written and
 * `commit()` answers `{ committed: false, reason: "stale" }`. It is the first statement of the batch,
 * a row of `batch_fences` whose NOT NULL column is NULL when the condition fails.
 */

/** Where a statement's result will be in the committed batch. */
export interface Slot<T> {
  readonly index: number;
  /** Never set: carries the statement's result type. */
  readonly type?: T;
}

export type CommitResult = { committed: true; result<T>(slot: Slot<T>): T } | { committed: false; reason: "stale" };

/** A unit of work that committed: each statement's result by its slot. */
export type Committed = Extract<CommitResult, { committed: true }>;

/** What happens once a batch committed: its audit rows logged, its events queued. */
export interface CommitHooks {
  afterCommit(done: { audit: AuditLog[]; events: NewWebhookEvent[] }): void;
}

/** How an audit row is written and logged (see {@link UnitOfWork.audit}). */
export interface AuditOptions {
  /** Written only if this holds in the batch; logged only if it was written. */
  onlyIf?: SQL;
  /** The insert itself, when it is more than a plain one (a count the batch sets into the metadata). */
  insert?: BatchItem<"sqlite">;
  /** The row as logged, when the batch's results complete it (that count). */
  logAs?: (committed: Committed) => AuditLog;
}

interface PendingAudit {
  row: AuditLog;
  conditional: boolean;
  logAs: ((committed: Committed) => AuditLog) | undefined;
}

export class UnitOfWork {
  private readonly statements: BatchItem<"sqlite">[] = [];
  private readonly auditRows: PendingAudit[] = [];
  private readonly eventRows: { row: NewWebhookEvent; conditional: boolean }[] = [];
  private fenceStatements: [BatchItem<"sqlite">, BatchItem<"sqlite">] | null = null;

  constructor(
    private readonly db: Db,
    private readonly hooks: CommitHooks,
  ) {}

  /** The batch applies only while `condition` (an SQL boolean over the primary's rows) holds. */
  fence(condition: SQL): this {
    if (this.fenceStatements !== null) throw new Error("a unit of work has one fence");
    const id = crypto.randomUUID();
    this.fenceStatements = [
      this.db.insert(batchFences).select(sql`SELECT ${id}, CASE WHEN ${condition} THEN 1 END`),
      this.db.delete(batchFences).where(sql`${batchFences.id} = ${id}`),
    ];
    return this;
  }

  /** Adds a statement; its result is read from the commit's result by the returned slot. */
  add<T extends BatchItem<"sqlite">>(statement: T): Slot<T["_"]["result"]> {
    this.statements.push(statement);
    return { index: this.statements.length - 1 };
  }

  /** Adds statements whose results nobody reads. */
  addAll(statements: BatchItem<"sqlite">[]): this {
    this.statements.push(...statements);
    return this;
  }

  /** An audit row, written in the batch and logged once it committed. */
  audit(row: AuditLog, options: AuditOptions = {}): this {
    const { onlyIf, logAs } = options;
    this.statements.push(options.insert ?? (onlyIf ? auditInsertIf(this.db, row, onlyIf) : auditInsert(this.db, row)));
    this.auditRows.push({ row, conditional: onlyIf !== undefined, logAs });
    return this;
  }

  /** Outbox rows of events, written in the batch (only if `onlyIf` holds there) and queued once it committed. */
  events(rows: NewWebhookEvent[], onlyIf?: SQL): this {
    for (const row of rows) {
      this.statements.push(eventInsert(this.db, row, onlyIf));
      this.eventRows.push({ row, conditional: onlyIf !== undefined });
    }
    return this;
  }

  /** Writes everything as one batch. A stale fence is a result, not an error; any other failure throws. */
  async commit(): Promise<CommitResult> {
    const fence = this.fenceStatements;
    // Which conditional rows the batch wrote, read at its end (same round trip): only those are logged or queued.
    const conditionalAudit = this.auditRows.filter((a) => a.conditional).map((a) => a.row.id);
    const conditionalEvents = this.eventRows.filter((e) => e.conditional).map((e) => e.row.id);
    const checks = [
      ...(conditionalAudit.length
        ? [this.db.select({ id: auditLogs.id }).from(auditLogs).where(inArray(auditLogs.id, conditionalAudit))]
        : []),
      ...(conditionalEvents.length
        ? [this.db.select({ id: webhookEvents.id }).from(webhookEvents).where(inArray(webhookEvents.id, conditionalEvents))]
        : []),
    ];
    const [first, ...rest] = [...(fence ? [fence[0]] : []), ...this.statements, ...(fence ? [fence[1]] : []), ...checks];
    if (!first) return { committed: true, result: () => undefined as never };
    let results: unknown[];
    try {
      results = await this.db.batch([first, ...rest]);
    } catch (error) {
      if (fence && isStaleFence(error)) return { committed: false, reason: "stale" };
      throw error;
    }
    const offset = fence ? 1 : 0;
    const committed: Committed = { committed: true, result: <T>(slot: Slot<T>) => results[slot.index + offset] as T };
    const written = new Set((results.slice(results.length - checks.length) as { id: string }[][]).flat().map((r) => r.id));
    this.hooks.afterCommit({
      audit: this.auditRows.filter((a) => !a.conditional || written.has(a.row.id)).map((a) => a.logAs?.(committed) ?? a.row),
      events: this.eventRows.filter((e) => !e.conditional || written.has(e.row.id)).map((e) => e.row),
    });
    return committed;
  }
}

/** The fence's own failure, and nothing else: SQLite names the table and column. */
function isStaleFence(error: unknown): boolean {
  return (
    findCause(error, (e): e is Error => e instanceof Error && /NOT NULL constraint failed: batch_fences\.ok/i.test(e.message)) !== undefined
  );
}
