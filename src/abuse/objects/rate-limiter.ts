import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../../config";
import type { LimitPolicy, LockoutPolicy } from "../../config/rate-limits";
import type {
  AdmitResult,
  EmailCodeCheck,
  EmailCodeIssue,
  SignInCodeCheck,
  SignInCodeCheckResult,
  SignInCodePrepare,
  HitResult,
  LimiterRpc,
  LockoutSnapshot,
  SecondFactorAnswer,
  SecondFactorGiveBack,
  SecondFactorIssued,
  SecondFactorResult,
  SettleResult,
  SpreadOptions,
  SpreadPolicy,
  SpreadSettleResult,
} from "../../kernel/objects";
import { alarmNow, isEmpty, prune, scheduleCleanup } from "./cleanup";
import {
  issueTicket,
  LOCKOUT_SCHEMA,
  inspectLockout,
  pendingMayLock,
  releaseTicket,
  runningLock,
  settleTicket,
  takeLockEvent,
  unlock,
  useLockout,
} from "./lockout";
import { createRecorder, type ObjectRecorder } from "./recorder";
import { countRefusal, REFUSALS_SCHEMA, takeEndedWindows } from "./refusal-windows";
import { checkCode, EMAIL_CODES_SCHEMA, issueCode } from "./email-codes";
import { activateCode, checkCode as checkSignInCode, peekCode, prepareCode, restoreCode, SIGN_IN_CODES_SCHEMA } from "./sign-in-codes";
import { forgiveAnswers, giveAnswerBack, judgeAnswer, recordIssued, SECOND_FACTOR_SCHEMA } from "./second-factor";
import { admitIdentifier, pendingBlock, runningBlock, settleIdentifier, SPREAD_SCHEMA } from "./spread";
import { ceilSeconds, META_SCHEMA } from "./storage";
import { checkWindows, limitStates, recordHit, WINDOWS_SCHEMA, withdrawHit } from "./windows";

export { TICKET_TTL_MS } from "./lockout";

/** Retry-After for a guess refused because earlier admitted guesses may still lock the account. */
const PENDING_RETRY_AFTER = 1;

/**
 * Exact rate limits and login lockout for one key: one object per client IP (`ip:<addr>`), login
 * identifier (`account:<email or username>`), trusted client, user, device, API key or mailbox,
 * named by src/abuse/object-names.ts. A thin shell over plain modules: sliding windows
 * (windows.ts), the lockout with admission tickets (lockout.ts), the IP spread signal (spread.ts),
 * refusal windows for the audit trail (refusal-windows.ts) and the alarm's clean-up (cleanup.ts).
 *
 * Every method is synchronous over `ctx.storage.sql`, so the object's input gate runs each one to
 * completion before the next: a check-and-increment cannot interleave with another, and parallel
 * bursts are admitted exactly. Callers pass `now` (ms) so one clock, the worker's `deps.now()`,
 * drives both the policy and the tests; only the alarm reads the object's own clock.
 */
export class RateLimiter extends DurableObject<Bindings> implements LimiterRpc {
  private schemaReady = false;
  private readonly recorder: ObjectRecorder;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.recorder = createRecorder(env, (promise) => ctx.waitUntil(promise));
  }

  /**
   * Counts one request of `action` if every policy has room; refuses without counting otherwise.
   * With `report`, a refusal is also counted for the audit trail (see refusal-windows.ts). With
   * `spread`, a running block of this IP refuses first, and a login's identifier is admitted.
   */
  hit(action: string, policies: LimitPolicy[], now: number, report = false, spread?: SpreadOptions): HitResult {
    this.prepare(now);
    const result = this.decideHit(action, policies, now, report, spread);
    this.schedule(now);
    return result;
  }

  /** Records the outcome of a login admitted with a spread ticket (see spread.ts). */
  settleSpread(ticket: string, failed: boolean, policy: SpreadPolicy, now: number): SpreadSettleResult {
    this.prepare(now);
    const blockStarted = settleIdentifier(this.sql, ticket, failed, policy, now);
    this.schedule(now);
    return { blockStarted };
  }

  /**
   * Admits one password guess for this identifier before the password is checked (see lockout.ts):
   * a lock or a spent limit refuses it (counted for the audit trail), as does a pending burst that
   * may still reach the next lock.
   */
  admitGuess(action: string, policies: LimitPolicy[], lockout: LockoutPolicy, now: number): AdmitResult {
    // The policy first: tickets that expire in the prune become failures under this policy.
    this.ensureSchema();
    useLockout(this.sql, lockout);
    prune(this.sql, now);
    const lockEvent = takeLockEvent(this.sql);
    const result = this.decideGuess(action, policies, lockout, now, lockEvent);
    this.schedule(now);
    return result;
  }

  /** Records the outcome of an admitted guess: success clears the failure count, failure adds one. */
  settleGuess(ticket: string, success: boolean, now: number): SettleResult {
    this.prepare(now);
    const failures = settleTicket(this.sql, ticket, success, now);
    this.schedule(now);
    return { failures, lockEvent: takeLockEvent(this.sql) };
  }

  /**
   * Withdraws an admitted guess that was never checked (an earlier step refused the login): neither
   * a failure nor a success, and its hit of `action` at `admittedAt` is taken back with it, so the
   * guess costs the identifier nothing. Unknown (expired, settled) tickets change nothing.
   */
  releaseGuess(ticket: string, action: string, admittedAt: number, now: number): void {
    this.prepare(now);
    if (releaseTicket(this.sql, ticket)) withdrawHit(this.sql, action, admittedAt);
    this.schedule(now);
  }

  /** Clears the failure count and any lock (password reset, administrator). */
  unlock(now: number): { wasLocked: boolean; failures: number } {
    this.prepare(now);
    const result = unlock(this.sql, now);
    this.schedule(now);
    return result;
  }

  /** The lockout state, for tests and operators. */
  inspect(now: number): LockoutSnapshot {
    this.prepare(now);
    const snapshot = inspectLockout(this.sql);
    this.schedule(now);
    return snapshot;
  }

  /** A sign-in's `mfa_token` was issued (this is the account's object, `user:<id>`). */
  secondFactorIssued(issued: SecondFactorIssued, now: number): { notify: boolean } {
    this.prepare(now);
    const result = recordIssued(this.sql, issued, now);
    this.schedule(now);
    return result;
  }

  /** Judges one second-factor answer, exactly under any concurrency (see second-factor.ts). */
  secondFactorAnswer(answer: SecondFactorAnswer, now: number): SecondFactorResult {
    this.prepare(now);
    const result = judgeAnswer(this.sql, answer, now);
    this.schedule(now);
    return result;
  }

  /** An accepted second-factor answer whose sign-in failed on a dependency: undone (see second-factor.ts). */
  secondFactorGiveBack(back: SecondFactorGiveBack, now: number): void {
    this.prepare(now);
    giveAnswerBack(this.sql, back, now);
    this.schedule(now);
  }

  /** Forgets the wrong second-factor answers counted under these budgets (password change or reset). */
  forgiveSecondFactor(actions: string[], now: number): void {
    this.prepare(now);
    forgiveAnswers(this.sql, actions);
    this.schedule(now);
  }

  /** Makes a mailed code the live one of its purpose (this is the account's object; see email-codes.ts). */
  issueEmailCode(issue: EmailCodeIssue, now: number): { issued: boolean } {
    this.prepare(now);
    const result = issueCode(this.sql, issue, now);
    this.schedule(now);
    return result;
  }

  /** Checks an answer to a mailed code, exactly under any concurrency. */
  checkEmailCode(check: EmailCodeCheck, now: number): "ok" | "wrong" | "none" {
    this.prepare(now);
    const result = checkCode(this.sql, check, now);
    this.schedule(now);
    return result;
  }

  /** A sign-in code about to be mailed (this is the address's object; see sign-in-codes.ts). */
  prepareSignInCode(prepare: SignInCodePrepare, now: number): { prepared: boolean } {
    this.prepare(now);
    const result = prepareCode(this.sql, prepare, now);
    this.schedule(now);
    return result;
  }

  /** The prepared code's mail was admitted: it becomes live. */
  activateSignInCode(hash: string, now: number): boolean {
    this.prepare(now);
    const result = activateCode(this.sql, hash, now);
    this.schedule(now);
    return result;
  }

  /** Whether the address's live code is this one (spends nothing). */
  peekSignInCode(hash: string, now: number): boolean {
    this.prepare(now);
    const result = peekCode(this.sql, hash, now);
    this.schedule(now);
    return result;
  }

  /** Judges one answer to the address's sign-in code, exactly under any concurrency. */
  checkSignInCode(check: SignInCodeCheck, now: number): SignInCodeCheckResult {
    this.prepare(now);
    const result = checkSignInCode(this.sql, check, now);
    this.schedule(now);
    return result;
  }

  /** An accepted sign-in code whose sign-in failed on a dependency: live again (see sign-in-codes.ts). */
  restoreSignInCode(hash: string, expiresAt: number, now: number): boolean {
    this.prepare(now);
    const result = restoreCode(this.sql, hash, expiresAt, now);
    this.schedule(now);
    return result;
  }

  /**
   * Writes the final count of every refusal window that has ended into its audit row, and drops
   * what no longer matters; an object left with nothing deletes its storage entirely. A hard lock
   * is kept (it ends only by `unlock`).
   */
  override async alarm(): Promise<void> {
    this.ensureSchema();
    const now = alarmNow(this.sql);
    prune(this.sql, now);
    const ended = takeEndedWindows(this.sql, now);
    if (ended.length > 0) await this.recorder.writeRefusalCounts(ended);
    if (isEmpty(this.sql)) {
      this.schemaReady = false;
      await this.ctx.storage.deleteAll();
      return;
    }
    this.schedule(now);
  }

  private decideHit(action: string, policies: LimitPolicy[], now: number, report: boolean, spread?: SpreadOptions): HitResult {
    const block = spread?.policy.enforce ? runningBlock(this.sql, spread.policy, now) : null;
    if (block) return block;
    const pending = spread ? pendingBlock(this.sql, spread) : null;
    const blocked =
      checkWindows(this.sql, action, policies, now) ??
      (pending ? { ok: false as const, ...pending, limits: limitStates(this.sql, action, policies, now) } : null);
    if (blocked) return report ? { ...blocked, report: countRefusal(this.sql, `rate_limited:${action}`, now) } : blocked;
    recordHit(this.sql, action, policies, now);
    const ticket = spread?.identifier !== undefined ? admitIdentifier(this.sql, spread.identifier, spread.policy, now) : undefined;
    return { ok: true, limits: limitStates(this.sql, action, policies, now), ...(ticket ? { ticket } : {}) };
  }

  private decideGuess(
    action: string,
    policies: LimitPolicy[],
    lockout: LockoutPolicy,
    now: number,
    lockEvent: AdmitResult["lockEvent"],
  ): AdmitResult {
    const refusal = <R extends "locked" | "rate_limited">(reason: R) => ({
      ok: false as const,
      reason,
      lockEvent,
      report: countRefusal(this.sql, `login.throttled:${reason}`, now),
    });
    const lock = runningLock(this.sql, now);
    if (lock?.tier === "hard") return { ...refusal("locked"), tier: "hard", retryAfter: null };
    if (lock?.tier === "soft") return { ...refusal("locked"), tier: "soft", retryAfter: ceilSeconds(lock.retryAfterMs) };
    const blocked = checkWindows(this.sql, action, policies, now);
    if (blocked) return { ...blocked, ...refusal("rate_limited") };
    if (pendingMayLock(this.sql, lockout)) return { ...refusal("locked"), tier: "pending", retryAfter: PENDING_RETRY_AFTER };
    recordHit(this.sql, action, policies, now);
    return { ok: true, ticket: issueTicket(this.sql, now), lockEvent };
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /** Storage may have been wiped by a previous alarm, so the schema is (re)created lazily. */
  private ensureSchema(): void {
    if (this.schemaReady) return;
    this.sql.exec(
      WINDOWS_SCHEMA +
        LOCKOUT_SCHEMA +
        META_SCHEMA +
        SPREAD_SCHEMA +
        REFUSALS_SCHEMA +
        SECOND_FACTOR_SCHEMA +
        EMAIL_CODES_SCHEMA +
        SIGN_IN_CODES_SCHEMA,
    );
    this.schemaReady = true;
  }

  private prepare(now: number): void {
    this.ensureSchema();
    prune(this.sql, now);
  }

  private schedule(now: number): void {
    scheduleCleanup(this.sql, this.ctx.storage, now);
  }
}
