import type { SecondFactorAnswer, SecondFactorGiveBack, SecondFactorIssued, SecondFactorResult } from "../../kernel/objects";
import { one } from "./storage";
import { checkWindows, recordHit } from "./windows";

/**
 * The second step of a sign-in, and every other check of a second factor, in the account's own
 * object (`user:<id>`). The worker computes the verdict (which TOTP steps a code matches, whether a
 * recovery code is one of the account's) and this decides, in one synchronous call, whether that
 * verdict may count: the `mfa_token` is alive (not used, not spent by 5 wrong answers), the
 * answerer's budget has room, and a TOTP step is later than the last one accepted. So a burst of
 * parallel answers is judged one after another, and exactly: at most 5 per token, at most the
 * budget per window, one success per code.
 */
export const SECOND_FACTOR_SCHEMA = `
CREATE TABLE IF NOT EXISTS mfa_tokens (
  id TEXT PRIMARY KEY,
  wrong INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL,
  keep_until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS totp_step (id INTEGER PRIMARY KEY CHECK (id = 1), step INTEGER NOT NULL, expires_at INTEGER NOT NULL);
`;

/** Wrong answers that spend an `mfa_token` (API.md: it dies at the fifth). */
const WRONG_ANSWERS_PER_TOKEN = 5;

/** Expired tokens no second step finished, within {@link TOKEN_MEMORY_MS}, that tell the owner someone has the password. */
const ABANDONED_TO_NOTIFY = 3;

/** How long a token is remembered after it expires: the window in which abandoned ones are counted. */
const TOKEN_MEMORY_MS = 86_400_000;

const NOTICE_ACTION = "mfa_notice";

interface TokenRow extends Record<string, SqlStorageValue> {
  wrong: number;
  done: number;
  expires_at: number;
}

/** Records a token the first factor just issued; says whether the owner should now hear of abandoned ones. */
export function recordIssued(sql: SqlStorage, issued: SecondFactorIssued, now: number): { notify: boolean } {
  remember(sql, issued.tokenId, issued.expiresAt);
  const { n } = one<{ n: number }>(
    sql,
    "SELECT count(*) AS n FROM mfa_tokens WHERE done = 0 AND wrong < ? AND expires_at <= ?",
    WRONG_ANSWERS_PER_TOKEN,
    now,
  );
  return { notify: n >= ABANDONED_TO_NOTIFY && noticeDue(sql, issued.notice, now) };
}

/** Judges one answer (see the module comment). */
export function judgeAnswer(sql: SqlStorage, answer: SecondFactorAnswer, now: number): SecondFactorResult {
  const { token, budget, verdict } = answer;
  if (token) {
    remember(sql, token.id, token.expiresAt);
    const row = one<TokenRow>(sql, "SELECT wrong, done, expires_at FROM mfa_tokens WHERE id = ?", token.id);
    if (row.done || row.wrong >= WRONG_ANSWERS_PER_TOKEN || row.expires_at <= now) return { ok: false, reason: "invalid_token" };
  }
  const blocked = checkWindows(sql, budget.action, budget.policies, now);
  if (blocked) {
    const { retryAfter, blockedBy, limits } = blocked;
    return { ok: false, reason: "rate_limited", retryAfter, blockedBy, limits, notify: noticeDue(sql, answer.notice, now) };
  }
  const accepted = verdict.kind === "totp" ? acceptStep(sql, verdict.steps, verdict.periodMs) : verdict.ok ? NO_STEP : undefined;
  if (accepted !== undefined) {
    if (token) sql.exec("UPDATE mfa_tokens SET done = 1 WHERE id = ?", token.id);
    return { ok: true, ...accepted };
  }
  recordHit(sql, budget.action, budget.policies, now);
  let spent = false;
  if (token) {
    const { wrong } = one<{ wrong: number }>(sql, "UPDATE mfa_tokens SET wrong = wrong + 1 WHERE id = ? RETURNING wrong", token.id);
    spent = wrong >= WRONG_ANSWERS_PER_TOKEN;
  }
  // The owner hears when a token is spent or the budget has just run out: someone has the password.
  const full = checkWindows(sql, budget.action, budget.policies, now) !== null;
  return { ok: false, reason: "invalid_code", spent, notify: (spent || full) && noticeDue(sql, answer.notice, now) };
}

/** Forgets the wrong answers counted under these budgets (a password change or reset). */
export function forgiveAnswers(sql: SqlStorage, actions: string[]): void {
  for (const action of actions) sql.exec("DELETE FROM hits WHERE action = ?", action);
}

/**
 * Undoes an accepted answer whose sign-in could not be made (a dependency was down: the person got
 * a 503 and will retry): the token is alive again, and the TOTP step goes back to the one before,
 * unless a later step was accepted since. The token's wrong answers stay counted.
 */
export function giveAnswerBack(sql: SqlStorage, back: SecondFactorGiveBack, now: number): void {
  if (back.tokenId) sql.exec("UPDATE mfa_tokens SET done = 0 WHERE id = ? AND expires_at > ?", back.tokenId, now);
  if (back.step === null || lastStep(sql) !== back.step) return;
  if (back.previousStep === null) sql.exec("DELETE FROM totp_step");
  else sql.exec("UPDATE totp_step SET step = ?", back.previousStep);
}

const NO_STEP = { step: null, previousStep: null };

function lastStep(sql: SqlStorage): number | null {
  return sql.exec<{ step: number }>("SELECT step FROM totp_step").toArray()[0]?.step ?? null;
}

/**
 * The earliest matched step later than the last accepted one, now accepted; undefined when none is
 * (a wrong code, or a replay: a code of an accepted step or an earlier one never works again).
 */
function acceptStep(sql: SqlStorage, steps: number[], periodMs: number): { step: number; previousStep: number | null } | undefined {
  const previousStep = lastStep(sql);
  const step = steps.filter((s) => s > (previousStep ?? -1)).sort((a, b) => a - b)[0];
  if (step === undefined) return undefined;
  // Kept while a code of that step could still be presented (the current step ± 1), then forgotten.
  const expiresAt = (step + 2) * periodMs;
  sql.exec(
    "INSERT INTO totp_step (id, step, expires_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET step = excluded.step, expires_at = excluded.expires_at",
    step,
    expiresAt,
  );
  return { step, previousStep };
}

function remember(sql: SqlStorage, id: string, expiresAt: number): void {
  sql.exec("INSERT OR IGNORE INTO mfa_tokens (id, expires_at, keep_until) VALUES (?, ?, ?)", id, expiresAt, expiresAt + TOKEN_MEMORY_MS);
}

/** At most one "someone has your password" notice per the policy's window. */
function noticeDue(sql: SqlStorage, policy: SecondFactorAnswer["notice"], now: number): boolean {
  if (checkWindows(sql, NOTICE_ACTION, [policy], now)) return false;
  recordHit(sql, NOTICE_ACTION, [policy], now);
  return true;
}

export function pruneSecondFactor(sql: SqlStorage, now: number): void {
  sql.exec("DELETE FROM mfa_tokens WHERE keep_until <= ?", now);
  sql.exec("DELETE FROM totp_step WHERE expires_at <= ?", now);
}

/** When the last remembered token or step is forgotten, or null. */
export function secondFactorExpiry(sql: SqlStorage): number | null {
  return one<{ t: number | null }>(
    sql,
    "SELECT max(t) AS t FROM (SELECT max(keep_until) AS t FROM mfa_tokens UNION ALL SELECT expires_at FROM totp_step)",
  ).t;
}
