import type { LimitPolicy, LockoutPolicy } from "../config/rate-limits";

/**
 * What the rest of the worker calls on the two Durable Object classes (src/abuse/objects/rate-limiter.ts,
 * src/abuse/objects/attack-monitor.ts), declared here, below the domains, so that the per-request
 * dependencies (deps.ts) can type their stubs without importing the classes: the classes implement
 * these interfaces. Every value crossing the RPC boundary is plain data.
 */

/** How a limit stands after a call: the numbers for the `RateLimit` header. */
export interface LimitState {
  name: string;
  limit: number;
  window: number;
  remaining: number;
  /** Seconds until at least one unit of quota is free again. */
  reset: number;
}

/**
 * A refusal as the audit trail sees it: refusals of one kind are counted per window (see the RateLimiter's
 * refusal windows), and only the first of a window writes an audit row, with this `id`; the
 * object writes the window's final count into that row when the window ends.
 */
export interface RefusalReport {
  /** The audit row of this window: the first refusal inserts it, the alarm updates its count. */
  id: string;
  /** Whether this refusal opened the window (and so is the one that writes the row). */
  first: boolean;
  windowSeconds: number;
}

export type HitResult =
  | { ok: true; limits: LimitState[]; ticket?: string }
  | { ok: false; retryAfter: number; blockedBy: string; limits: LimitState[]; report?: RefusalReport };

/**
 * The "one client failing across many identifiers" signal of a per-IP object (see
 * RateLimiter.hit): at `identifiers` distinct failing login identifiers within `window`
 * seconds the IP is blocked for `blockSeconds`. `enforce: false` (action `log`) records and audits
 * the block without refusing anything.
 */
export interface SpreadPolicy {
  name: string;
  identifiers: number;
  window: number;
  blockSeconds: number;
  enforce: boolean;
}

/** How a request takes part in the spread signal: a login names its identifier (hashed); others only check. */
export interface SpreadOptions {
  policy: SpreadPolicy;
  /** A login's identifier, hashed: the call admits it as a pending attempt and returns a ticket. */
  identifier?: string;
}

/** A block that has just begun: its caller writes the one audit row (see {@link RefusalReport}). */
export interface SpreadSettleResult {
  blockStarted: RefusalReport | null;
}

type LockTier = "soft" | "hard";

/** A lock that has just begun and not been announced yet (audit row, notice to the owner). */
export type LockEvent = LockTier | null;

export type AdmitResult =
  | { ok: true; ticket: string; lockEvent: LockEvent }
  | {
      ok: false;
      reason: "rate_limited";
      retryAfter: number;
      blockedBy: string;
      limits: LimitState[];
      lockEvent: LockEvent;
      report: RefusalReport;
    }
  | { ok: false; reason: "locked"; tier: LockTier | "pending"; retryAfter: number | null; lockEvent: LockEvent; report: RefusalReport };

export interface SettleResult {
  failures: number;
  lockEvent: LockEvent;
}

export interface LockoutSnapshot {
  failures: number;
  pending: number;
  lockedUntil: number | null;
  hardLocked: boolean;
}

/** A first factor's `mfa_token`, recorded in the account's object when it is issued. */
export interface SecondFactorIssued {
  tokenId: string;
  expiresAt: number;
  /** At most one "someone has your password" notice per this window. */
  notice: LimitPolicy;
}

/** One answer to a second-factor check, with the worker's verdict on it (see abuse/objects/second-factor.ts). */
export interface SecondFactorAnswer {
  /** A sign-in's `mfa_token` (its id and expiry); absent for a step-up or an enrolment's confirmation. */
  token?: { id: string; expiresAt: number };
  /** The budget a wrong answer spends: the action's windows in this object. */
  budget: { action: string; policies: LimitPolicy[] };
  /** The TOTP steps the code matches (none: a wrong code), or whether a recovery code is one of the account's. */
  verdict: { kind: "totp"; steps: number[]; periodMs: number } | { kind: "match"; ok: boolean };
  notice: LimitPolicy;
}

export type SecondFactorResult =
  /** Accepted; `step` is the TOTP step now recorded as the last one used, `previousStep` the one before it. */
  | { ok: true; step: number | null; previousStep: number | null }
  /** The token is used, spent or expired. */
  | { ok: false; reason: "invalid_token" }
  | { ok: false; reason: "rate_limited"; retryAfter: number; blockedBy: string; limits: LimitState[]; notify: boolean }
  /** Wrong (or replayed); `spent`: that was the token's last chance. `notify`: tell the owner now. */
  | { ok: false; reason: "invalid_code"; spent: boolean; notify: boolean };

/** An accepted answer whose sign-in failed on a dependency, to undo (see abuse/objects/second-factor.ts `giveAnswerBack`). */
export interface SecondFactorGiveBack {
  tokenId: string | null;
  step: number | null;
  previousStep: number | null;
}

/** A code to mail to the account's address (abuse/objects/email-codes.ts): its purpose, hash and life. */
export interface EmailCodeIssue {
  purpose: string;
  hash: string;
  expiresAt: number;
  /** A live code younger than this is kept (and no new mail goes). */
  resendAfterMs: number;
  /** How many codes of this purpose may be issued per window (each is five more guesses). */
  policies: LimitPolicy[];
}

export interface EmailCodeCheck {
  purpose: string;
  hash: string;
}

/** A sign-in code about to be mailed (abuse/objects/sign-in-codes.ts). */
export interface SignInCodePrepare {
  hash: string;
  expiresAt: number;
  /** A known device of the account asks: it may replace a live code. */
  replaceLive: boolean;
  /** A stranger asks: no code while the address's strangers' budget is spent. */
  strangers: { action: string; policies: LimitPolicy[] } | null;
}

export interface SignInCodeCheck {
  hash: string;
  /** A stranger answers: the address's budget a wrong answer spends (null for a known device). */
  strangers: { action: string; policies: LimitPolicy[] } | null;
  /** At most one "someone is guessing" notice per this window. */
  notice: LimitPolicy;
}

export type SignInCodeCheckResult =
  /** `expiresAt`: the accepted code's, should its sign-in fail and the code be given back. */
  | { result: "ok"; expiresAt: number }
  | { result: "wrong"; notify: boolean }
  | { result: "rate_limited"; retryAfter: number; limits: LimitState[]; notify: boolean };

/** The RateLimiter's RPC surface (one object per client IP, identifier, user, device or mailbox). */
export interface LimiterRpc {
  hit(action: string, policies: LimitPolicy[], now: number, report?: boolean, spread?: SpreadOptions): HitResult;
  admitGuess(action: string, policies: LimitPolicy[], lockout: LockoutPolicy, now: number): AdmitResult;
  settleGuess(ticket: string, success: boolean, now: number): SettleResult;
  releaseGuess(ticket: string, action: string, admittedAt: number, now: number): void;
  settleSpread(ticket: string, failed: boolean, policy: SpreadPolicy, now: number): SpreadSettleResult;
  unlock(now: number): { wasLocked: boolean; failures: number };
  inspect(now: number): LockoutSnapshot;
  secondFactorIssued(issued: SecondFactorIssued, now: number): { notify: boolean };
  secondFactorAnswer(answer: SecondFactorAnswer, now: number): SecondFactorResult;
  secondFactorGiveBack(back: SecondFactorGiveBack, now: number): void;
  forgiveSecondFactor(actions: string[], now: number): void;
  issueEmailCode(issue: EmailCodeIssue, now: number): { issued: boolean };
  checkEmailCode(check: EmailCodeCheck, now: number): "ok" | "wrong" | "none";
  prepareSignInCode(prepare: SignInCodePrepare, now: number): { prepared: boolean };
  activateSignInCode(hash: string, now: number): boolean;
  peekSignInCode(hash: string, now: number): boolean;
  checkSignInCode(check: SignInCodeCheck, now: number): SignInCodeCheckResult;
  restoreSignInCode(hash: string, expiresAt: number, now: number): boolean;
}

/** What the monitor knows; `underAttack` is the only part a login reads. */
export interface AttackState {
  underAttack: boolean;
  /** Failed logins in the last minute, at the last tick. */
  rate: number;
  /** Failed logins per minute, on average over about the last hour (attack periods excluded). */
  baseline: number;
  /** When the current attack began (epoch ms), or null. */
  since: number | null;
}

/** What one shard counted in a minute: failures, distinct identifiers, and its distinct network tags. */
export interface ShardMinute {
  failures: number;
  identifiers: number;
  networks: string[];
}

/** The AttackMonitor's RPC surface (the shards and the one deployment-wide monitor). */
export interface MonitorRpc {
  /** A stranger's failed login: the identifier and the client network, both hashed. */
  recordFailure(now: number, identifier: string, network: string): Promise<void>;
  state(): AttackState;
}
