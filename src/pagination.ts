import { base64url, fromBase64url } from "./crypto";
import { AppError } from "./errors";

/**
 * Keyset pagination over `(created_at, id)`, newest first: a page ends at a row, the next one
 * starts strictly after it. A page costs the same however deep it is, and rows inserted meanwhile
 * never shift or repeat entries (an offset would do both).
 */

/** The last row of the previous page. */
interface PagePosition {
  createdAt: Date;
  id: string;
}

/** Opaque to clients: base64url of `<created_at ms>.<id>`. */
function encodeCursor(position: PagePosition): string {
  return base64url(new TextEncoder().encode(`${position.createdAt.getTime()}.${position.id}`));
}

/** Throws 422 `validation_failed` (field `cursor`) for anything this server did not hand out. */
export function decodeCursor(cursor: string): PagePosition {
  const invalid = () => new AppError("validation_failed", { errors: [{ field: "cursor", message: "Invalid cursor." }] });
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw invalid();
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64url(cursor));
  } catch {
    throw invalid();
  }
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(text);
  if (!match) throw invalid();
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}

/**
 * One page from `limit + 1` rows fetched (the extra row tells whether another page exists
 * without a count query), and the cursor of the next page, if any.
 */
export function toPage<T extends PagePosition>(rows: T[], limit: number): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
}
