import type { SignInCodeCheck, SignInCodeCheckResult, SignInCodePrepare } from "../../kernel/objects";
import { checkWindows, recordHit } from "./windows";

/**
 * The sign-in code of one address, in the address's own object (`mailbox:<address>`, so an
 * address without an account can sign up by code too). One code at a time; the object decides each
 * step in one synchronous call, so parallel requests and guesses are judged one after another:
 * - a code is prepared, and becomes live only once its mail was admitted ({@link activateCode});
 * - a live code is replaced only by a request from a known device of the account, or once it has
 *   expired or died: a stranger asking again cannot void the code the owner is typing;
 * - each code takes 5 wrong answers, then dies; strangers' wrong answers (and guesses while no code
 *   is live) also spend the address's budgets, beyond which code sign-in pauses for strangers and
 *   the owner is told (once a day).
 * Only the code's hash is kept.
 */
export const SIGN_IN_CODES_SCHEMA = `
CREATE TABLE IF NOT EXISTS sign_in_code (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  hash TEXT NOT NULL,
  wrong INTEGER NOT NULL DEFAULT 0,
  live INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL
);
`;

const WRONG_ANSWERS_PER_CODE = 5;
const NOTICE_ACTION = "email_code_notice";

interface CodeRow extends Record<string, SqlStorageValue> {
  hash: string;
  wrong: number;
  live: number;
  expires_at: number;
}

function current(sql: SqlStorage): CodeRow | undefined {
  return sql.exec<CodeRow>("SELECT hash, wrong, live, expires_at FROM sign_in_code WHERE id = 1").toArray()[0];
}

const isLive = (row: CodeRow | undefined, now: number): row is CodeRow =>
  row !== undefined && row.live === 1 && row.expires_at > now && row.wrong < WRONG_ANSWERS_PER_CODE;

/** Prepares a new code (not live yet), unless strangers are paused or a live code must stay. */
export function prepareCode(sql: SqlStorage, prepare: SignInCodePrepare, now: number): { prepared: boolean } {
  if (prepare.strangers && checkWindows(sql, prepare.strangers.action, prepare.strangers.policies, now)) return { prepared: false };
  if (isLive(current(sql), now) && !prepare.replaceLive) return { prepared: false };
  sql.exec(
    `INSERT INTO sign_in_code (id, hash, wrong, live, expires_at) VALUES (1, ?, 0, 0, ?)
     ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, wrong = 0, live = 0, expires_at = excluded.expires_at`,
    prepare.hash,
    prepare.expiresAt,
  );
  return { prepared: true };
}

/** The prepared code's mail was admitted: it is live now (false when another request replaced it since). */
export function activateCode(sql: SqlStorage, hash: string, now: number): boolean {
  const row = current(sql);
  if (!row || row.hash !== hash || row.live === 1 || row.expires_at <= now) return false;
  sql.exec("UPDATE sign_in_code SET live = 1 WHERE id = 1");
  return true;
}

/** Whether the live code is this one: a link's page says whether it still works, spending nothing. */
export function peekCode(sql: SqlStorage, hash: string, now: number): boolean {
  const row = current(sql);
  return isLive(row, now) && row.hash === hash;
}

/** Judges one answer (see the module comment). */
export function checkCode(sql: SqlStorage, check: SignInCodeCheck, now: number): SignInCodeCheckResult {
  const { strangers } = check;
  if (strangers) {
    const blocked = checkWindows(sql, strangers.action, strangers.policies, now);
    if (blocked) return { result: "rate_limited", retryAfter: blocked.retryAfter, limits: blocked.limits, notify: false };
  }
  const row = current(sql);
  if (isLive(row, now) && row.hash === check.hash) {
    sql.exec("DELETE FROM sign_in_code WHERE id = 1");
    return { result: "ok", expiresAt: row.expires_at };
  }
  if (isLive(row, now)) sql.exec("UPDATE sign_in_code SET wrong = wrong + 1 WHERE id = 1");
  let notify = false;
  if (strangers) {
    recordHit(sql, strangers.action, strangers.policies, now);
    // The budget just ran out: someone is guessing this address's codes; its owner hears once a day.
    if (checkWindows(sql, strangers.action, strangers.policies, now) && !checkWindows(sql, NOTICE_ACTION, [check.notice], now)) {
      recordHit(sql, NOTICE_ACTION, [check.notice], now);
      notify = true;
    }
  }
  return { result: "wrong", notify };
}

/**
 * Gives an accepted code back, live with a fresh count of wrong answers, when the sign-in it
 * admitted could not be made (a dependency was down: the person got a 503 and will retry with the
 * same code). Not when another code was prepared since (that one is the address's now), nor once
 * the code has expired.
 */
export function restoreCode(sql: SqlStorage, hash: string, expiresAt: number, now: number): boolean {
  if (expiresAt <= now || current(sql)) return false;
  sql.exec("INSERT INTO sign_in_code (id, hash, wrong, live, expires_at) VALUES (1, ?, 0, 1, ?)", hash, expiresAt);
  return true;
}

export function pruneSignInCodes(sql: SqlStorage, now: number): void {
  sql.exec("DELETE FROM sign_in_code WHERE expires_at <= ?", now);
}

export function signInCodesExpiry(sql: SqlStorage): number | null {
  return sql.exec<{ t: number | null }>("SELECT max(expires_at) AS t FROM sign_in_code").one().t;
}
