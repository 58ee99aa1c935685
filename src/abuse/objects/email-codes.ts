import type { EmailCodeCheck, EmailCodeIssue } from "../../kernel/objects";
import { checkWindows, recordHit } from "./windows";

/**
 * Codes mailed to an account's address, kept in the account's own object (`user:<id>`), at most one
 * live code per purpose. The object decides each check in one synchronous call, so a burst of
 * parallel guesses is judged one after another: a code admits exactly one success and dies at the
 * fifth wrong answer. Only the code's hash is kept.
 */
export const EMAIL_CODES_SCHEMA = `
CREATE TABLE IF NOT EXISTS email_codes (
  purpose TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  wrong INTEGER NOT NULL DEFAULT 0,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

/** Wrong answers a mailed code takes before it dies. */
const WRONG_ANSWERS_PER_CODE = 5;

interface CodeRow extends Record<string, SqlStorageValue> {
  hash: string;
  wrong: number;
  issued_at: number;
}

function liveCode(sql: SqlStorage, purpose: string, now: number): CodeRow | undefined {
  return sql
    .exec<CodeRow>(
      "SELECT hash, wrong, issued_at FROM email_codes WHERE purpose = ? AND expires_at > ? AND wrong < ?",
      purpose,
      now,
      WRONG_ANSWERS_PER_CODE,
    )
    .toArray()[0];
}

/**
 * Makes `issue` the live code of its purpose, unless the last one (live, used up by wrong answers,
 * or not) was issued less than `resendAfterMs` ago or the purpose's daily count is spent: then
 * nothing changes and no mail should go.
 * Asking again cannot turn the account's address into a mail cannon, keep replacing the code its
 * owner is typing, or buy a guesser five more tries at once.
 */
export function issueCode(sql: SqlStorage, issue: EmailCodeIssue, now: number): { issued: boolean } {
  const last = sql.exec<{ issued_at: number }>("SELECT issued_at FROM email_codes WHERE purpose = ?", issue.purpose).toArray()[0];
  if (last && now - last.issued_at < issue.resendAfterMs) return { issued: false };
  const action = `email_code:${issue.purpose}`;
  if (checkWindows(sql, action, issue.policies, now)) return { issued: false };
  recordHit(sql, action, issue.policies, now);
  sql.exec(
    `INSERT INTO email_codes (purpose, hash, wrong, issued_at, expires_at) VALUES (?, ?, 0, ?, ?)
     ON CONFLICT (purpose) DO UPDATE SET hash = excluded.hash, wrong = 0, issued_at = excluded.issued_at, expires_at = excluded.expires_at`,
    issue.purpose,
    issue.hash,
    now,
    issue.expiresAt,
  );
  return { issued: true };
}

/** Checks an answer: `ok` uses the code up, `wrong` counts against it, `none` when no code is live. */
export function checkCode(sql: SqlStorage, check: EmailCodeCheck, now: number): "ok" | "wrong" | "none" {
  const live = liveCode(sql, check.purpose, now);
  if (!live) return "none";
  if (live.hash === check.hash) {
    // Whoever has it reads the mailbox: the next code needs no pacing.
    sql.exec("DELETE FROM email_codes WHERE purpose = ?", check.purpose);
    return "ok";
  }
  sql.exec("UPDATE email_codes SET wrong = wrong + 1 WHERE purpose = ?", check.purpose);
  return "wrong";
}

/** Expired codes go; a spent one stays until then (its issue time still paces the next). */
export function pruneEmailCodes(sql: SqlStorage, now: number): void {
  sql.exec("DELETE FROM email_codes WHERE expires_at <= ?", now);
}

/** When the last live code expires, or null. */
export function emailCodesExpiry(sql: SqlStorage): number | null {
  return sql.exec<{ t: number | null }>("SELECT max(expires_at) AS t FROM email_codes").one().t;
}
