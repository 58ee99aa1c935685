import { importedHashProblem, passwordParams } from "../accounts/passwords";
import { recordAudit } from "../audit/audit";
import { emitEvents } from "../events/events";
import { insertUsersIfFree, type ImportedUser } from "../db/admin-import";
import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";

/**
 * `POST /admin/users/import`: users from another system, one JSON object per line (NDJSON), with
 * their password hashes (bcrypt or Gatehouse PBKDF2; upgraded at each user's first login, as
 * passwords.ts does for any outdated hash). The body is read as a stream and inserted 100 users per
 * D1 batch, so a request never holds more than one batch and one line. A taken email or username
 * is skipped (the import can be re-sent after a failure: what went in is skipped the second time);
 * a bad line is reported by number with the rule it broke, never with its content.
 */

/** Per request; a larger file is sent in parts. */
export const IMPORT_MAX_BYTES = 5 * 1024 * 1024;
export const IMPORT_MAX_LINES = 10_000;
/** A user's line is well under 1 KiB; a longer one is refused without being held. */
const MAX_LINE_BYTES = 16 * 1024;
/** Users per D1 batch (one transaction, one round trip). */
const BATCH_SIZE = 100;
const NEWLINE = 0x0a;

/** One line, as the request's field rules (registration's) give it. */
interface ImportLine {
  email: string;
  full_name: string;
  username?: string | null | undefined;
  password_hash: string;
  email_verified?: boolean | undefined;
}

/** The field rules, applied by the HTTP layer's schema (a zod `safeParse`). */
export type LineParser = (
  value: unknown,
) =>
  { success: true; data: ImportLine } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };

export interface ImportReport {
  imported: number;
  skipped: number;
  errors: { line: number; message: string }[];
}

class BodyTooLarge extends Error {}

interface RawLine {
  number: number;
  /** Null when the line was longer than MAX_LINE_BYTES (its bytes were dropped as they came). */
  bytes: Uint8Array | null;
}

/**
 * Splits a byte stream into lines at LF, holding only the current line. Splitting bytes (not
 * decoded text) is safe in UTF-8, where 0x0A never occurs inside a character, and lets each line be
 * decoded on its own: one line of bad UTF-8 is that line's error, not the request's.
 * Throws {@link BodyTooLarge} once more than IMPORT_MAX_BYTES arrived.
 */
async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<RawLine> {
  const reader = body.getReader();
  let received = 0;
  let number = 0;
  let parts: Uint8Array[] = [];
  let held = 0;
  let overlong = false;
  const finish = (tail: Uint8Array): RawLine => {
    number += 1;
    let bytes: Uint8Array | null = null;
    if (!overlong && held + tail.byteLength <= MAX_LINE_BYTES) {
      bytes = new Uint8Array(held + tail.byteLength);
      let offset = 0;
      for (const part of [...parts, tail]) {
        bytes.set(part, offset);
        offset += part.byteLength;
      }
    }
    parts = [];
    held = 0;
    overlong = false;
    return { number, bytes };
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > IMPORT_MAX_BYTES) throw new BodyTooLarge();
      let start = 0;
      for (let end = value.indexOf(NEWLINE); end !== -1; end = value.indexOf(NEWLINE, start)) {
        yield finish(value.subarray(start, end));
        start = end + 1;
      }
      const rest = value.subarray(start);
      if (overlong || held + rest.byteLength > MAX_LINE_BYTES) {
        overlong = true;
        parts = [];
        held = 0;
      } else if (rest.byteLength > 0) {
        parts.push(rest);
        held += rest.byteLength;
      }
    }
    if (held > 0 || overlong) yield finish(new Uint8Array(0));
  } finally {
    // Stopped early (a limit): stop reading the client's upload.
    await reader.cancel().catch(() => undefined);
  }
}

/** A line's user, or the reason it cannot be imported (field names and rules only, never values). */
function parseLine(deps: Deps, bytes: Uint8Array | null, rules: LineParser): ImportLine | string | null {
  if (!bytes) return `Longer than ${MAX_LINE_BYTES} bytes.`;
  let text: string;
  try {
    // A byte-order mark (first line of some exports) is dropped by the decoder.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes).trim();
  } catch {
    return "Not valid UTF-8.";
  }
  if (text === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the input, which may hold a password hash.
    return "Not valid JSON.";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "Each line must be one JSON object.";
  const result = rules(value);
  if (!result.success) {
    return result.error.issues
      .map((issue) => `${issue.path.map(String).join(".") || "line"}: ${issue.message}`)
      .join("; ")
      .slice(0, 500);
  }
  const hashProblem = importedHashProblem(result.data.password_hash, passwordParams(deps));
  return hashProblem ? `password_hash: ${hashProblem}` : result.data;
}

export async function importUsers(
  deps: Deps,
  actorUserId: string,
  body: ReadableStream<Uint8Array> | null,
  rules: LineParser,
): Promise<ImportReport> {
  const report: ImportReport = { imported: 0, skipped: 0, errors: [] };
  let batch: ImportedUser[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const results = await insertUsersIfFree(deps.db, batch);
    const created = batch.filter((_, i) => results[i]);
    report.imported += created.length;
    report.skipped += batch.length - created.length;
    batch = [];
    // Receivers keep their own copy of the user list: an imported user is as new to them as a registered one.
    await emitEvents(
      deps,
      created.map((user) => ({
        type: "user.created" as const,
        data: {
          user_id: user.id,
          email: user.email,
          username: user.username ?? null,
          email_verified: user.emailVerified ?? false,
          imported: true,
        },
      })),
    );
  };

  let lastLine = 0;
  let stopped: "line_limit" | "byte_limit" | null = null;
  try {
    for await (const { number, bytes } of body ? readLines(body) : []) {
      const parsed = parseLine(deps, bytes, rules);
      if (parsed === null) continue;
      if (number > IMPORT_MAX_LINES) {
        stopped = "line_limit";
        break;
      }
      lastLine = number;
      if (typeof parsed === "string") {
        report.errors.push({ line: number, message: parsed });
        continue;
      }
      const now = deps.now();
      batch.push({
        id: crypto.randomUUID(),
        email: parsed.email,
        emailVerified: parsed.email_verified ?? false,
        passwordHash: parsed.password_hash,
        fullName: parsed.full_name,
        username: parsed.username ?? null,
        createdAt: now,
        updatedAt: now,
      });
      if (batch.length === BATCH_SIZE) await flush();
    }
  } catch (error) {
    if (!(error instanceof BodyTooLarge)) throw error;
    stopped = "byte_limit";
  }
  await flush();

  await recordAudit(deps, {
    action: "admin.users_imported",
    actorUserId,
    metadata: {
      imported: report.imported,
      skipped: report.skipped,
      errors: report.errors.length,
      lines: lastLine,
      ...(stopped && { stopped }),
    },
  });
  if (stopped) {
    const limit = stopped === "line_limit" ? `${IMPORT_MAX_LINES} lines` : `${IMPORT_MAX_BYTES} bytes`;
    throw new AppError("payload_too_large", {
      detail:
        `At most ${limit} per request. Lines 1 to ${lastLine} were processed (${report.imported} imported, ` +
        `${report.skipped} skipped, ${report.errors.length} refused); send the rest in another request.`,
    });
  }
  return report;
}
