import { and, desc, eq, gt, inArray, like, lt, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { consumedTokens } from "./schema";

/**
 * Queries on `consumed_tokens`, the single-use arbiter of mailed tokens (see
 * kernel/one-time-tokens.ts for the key scheme). A row is either a consumed token's hash or an
 * issuance marker; `superseded` names the key range of markers newer than a token, or null where
 * the newest token does not win.
 */
export interface MarkerRange {
  /** Exclusive lower bound: the token's own marker key. */
  after: string;
  /** Exclusive upper bound: the end of the user's range for the purpose. */
  before: string;
  /** Only void markers supersede (tokens of the purpose coexist: newer ones do not void older ones). */
  voidsOnly?: boolean;
}

export interface ConsumedRow {
  key: string;
  purpose: string;
  at: number;
  expiresAt: number;
}

function newerMarkerExists(range: MarkerRange | null): SQL {
  if (!range) return sql`0`;
  const voids = range.voidsOnly ? like(consumedTokens.purpose, "%_voided") : undefined;
  return sql`EXISTS (SELECT 1 FROM ${consumedTokens} WHERE ${and(gt(consumedTokens.tokenHash, range.after), lt(consumedTokens.tokenHash, range.before), voids)})`;
}

/**
 * The statement that writes a marker in another change's batch, only if `onlyIf` holds (the change
 * applied), and unless one with the same key exists.
 */
export function markerInsert(db: Db, row: ConsumedRow, onlyIf: SQL): BatchItem<"sqlite"> {
  // INSERT … SELECT takes every column in table order: token_hash, purpose, consumed_at, expires_at.
  return db
    .insert(consumedTokens)
    .select(sql`SELECT ${row.key}, ${row.purpose}, ${row.at}, ${row.expiresAt} WHERE ${onlyIf}`)
    .onConflictDoNothing();
}

/** Writes a row unless one with the same key exists (issuance and void markers). */
export async function insertMarker(db: Db, row: ConsumedRow): Promise<void> {
  await db
    .insert(consumedTokens)
    .values({ tokenHash: row.key, purpose: row.purpose, consumedAt: new Date(row.at), expiresAt: new Date(row.expiresAt) })
    .onConflictDoNothing();
}

/**
 * True when the token was consumed, or a newer marker supersedes it, or (with `ownMarker`) the
 * token's own issuance marker was never written.
 */
export async function isUsedOrSuperseded(db: Db, hash: string, superseded: MarkerRange | null, ownMarker?: string): Promise<boolean> {
  const unissued =
    ownMarker === undefined ? sql`0` : sql`NOT EXISTS (SELECT 1 FROM ${consumedTokens} WHERE ${eq(consumedTokens.tokenHash, ownMarker)})`;
  const row = await db.get<{ used: number }>(
    sql`SELECT (EXISTS (SELECT 1 FROM ${consumedTokens} WHERE ${eq(consumedTokens.tokenHash, hash)}) OR ${newerMarkerExists(superseded)} OR ${unissued}) AS used`,
  );
  return Boolean(row?.used);
}

/**
 * Claims a token in one conditional INSERT: succeeds for exactly one of any number of concurrent
 * callers, and for none once a newer marker supersedes the token.
 */
export async function claimToken(db: Db, row: ConsumedRow, superseded: MarkerRange | null): Promise<boolean> {
  // The WHERE makes SQLite parse ON CONFLICT as the upsert clause, not as a join constraint.
  const result = await db.run(sql`
    INSERT INTO ${consumedTokens} (token_hash, purpose, consumed_at, expires_at)
    SELECT ${row.key}, ${row.purpose}, ${row.at}, ${row.expiresAt}
    WHERE NOT ${newerMarkerExists(superseded)}
    ON CONFLICT (token_hash) DO NOTHING`);
  return result.meta.changes === 1;
}

/** Rows that outlived their token by more than a day (the daily clean-up). */
export async function deleteExpiredConsumedTokens(db: Db, before: Date): Promise<number> {
  const result = await db.delete(consumedTokens).where(lt(consumedTokens.expiresAt, before)).run();
  return result.meta.changes;
}

/** The newest key in (from, to), or undefined: the latest issuance marker of a user and purpose. */
export async function newestKeyBetween(db: Db, from: string, to: string): Promise<string | undefined> {
  const row = await db
    .select({ key: consumedTokens.tokenHash })
    .from(consumedTokens)
    .where(and(gt(consumedTokens.tokenHash, from), lt(consumedTokens.tokenHash, to)))
    .orderBy(desc(consumedTokens.tokenHash))
    .limit(1)
    .get();
  return row?.key;
}

/** Whether a token hash was consumed. */
export async function isConsumed(db: Db, hash: string): Promise<boolean> {
  return (
    (await db.select({ key: consumedTokens.tokenHash }).from(consumedTokens).where(eq(consumedTokens.tokenHash, hash)).get()) !== undefined
  );
}

/** Every key in (from, to), oldest first: the issuance markers of a user and purpose. */
export async function keysBetween(db: Db, from: string, to: string): Promise<string[]> {
  const rows = await db
    .select({ key: consumedTokens.tokenHash })
    .from(consumedTokens)
    .where(and(gt(consumedTokens.tokenHash, from), lt(consumedTokens.tokenHash, to)))
    .orderBy(consumedTokens.tokenHash)
    .limit(100);
  return rows.map((r) => r.key);
}

/** Which of these token hashes were consumed (or individually voided). */
export async function consumedAmong(db: Db, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await db.select({ key: consumedTokens.tokenHash }).from(consumedTokens).where(inArray(consumedTokens.tokenHash, hashes));
  return new Set(rows.map((r) => r.key));
}

/** Voids single tokens by their hashes (a consumed row each): they can never be used. */
export async function voidTokenHashes(db: Db, rows: ConsumedRow[]): Promise<void> {
  const [first, ...rest] = rows.map((row) =>
    db
      .insert(consumedTokens)
      .values({ tokenHash: row.key, purpose: row.purpose, consumedAt: new Date(row.at), expiresAt: new Date(row.expiresAt) })
      .onConflictDoNothing(),
  );
  if (first) await db.batch([first, ...rest]);
}
