/**
 * Small helpers over a Durable Object's SQLite storage, shared by the RateLimiter's modules. Every
 * function is synchronous: the object's input gate runs each RPC method to completion before the
 * next, so a read followed by a write here never interleaves with another request.
 */

/** The single row of an aggregate query. */
export function one<T extends Record<string, SqlStorageValue>>(sql: SqlStorage, query: string, ...bindings: unknown[]): T {
  return sql.exec<T>(query, ...bindings).one();
}

/** A number kept in the `meta` table, or undefined. */
export function readMeta(sql: SqlStorage, key: string): number | undefined {
  return sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
}

export function writeMeta(sql: SqlStorage, key: string, value: number): void {
  sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
}

/** Whole seconds until `ms` has passed, at least 1 (the smallest `Retry-After` worth sending). */
export function ceilSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The latest of some expiry times (null ones ignored), or null when there are none. */
export function latest(...times: (number | null | undefined)[]): number | null {
  const known = times.filter((t): t is number => typeof t === "number");
  return known.length === 0 ? null : Math.max(...known);
}

export const META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);";
