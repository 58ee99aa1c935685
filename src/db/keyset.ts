import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/**
 * Rows strictly after `position` in newest-first `(created_at, id)` order: the keyset condition of
 * every paged listing (see src/pagination.ts). Undefined without a position, so `and()` drops it.
 */
export function olderThan(
  columns: { createdAt: SQLiteColumn; id: SQLiteColumn },
  position: { createdAt: Date; id: string } | null | undefined,
): SQL | undefined {
  if (!position) return undefined;
  return or(lt(columns.createdAt, position.createdAt), and(eq(columns.createdAt, position.createdAt), lt(columns.id, position.id)));
}
