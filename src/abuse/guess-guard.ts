import { accountPolicies, sessionLockout, TRUSTED_LOCKOUT, type LockoutPolicy } from "../config/rate-limits";
import type { AccountIdentifier } from "../db/users";
import { findUserByIdentifier } from "../db/users";
import { AppError } from "../errors";
import { emitEvents, eventRows } from "../events/events";
import type { Deps } from "../kernel/deps";
import type { LimitState, LockEvent } from "../kernel/objects";
import { auditRow, recordAudit } from "../audit/audit";
import { sendSecurityNotice } from "../mail/notices";
import { accountObjectName, identifierKind } from "./object-names";
import { describeError, log } from "../log";
import { recordRefusal } from "./refusals";

/**
 * The guess guard: every password check (login, current-password checks, verification) runs as one
 * guess of one guesser. The guesser's object admits the guess before the check (a ticket, pending
 * until settled) and records its outcome after the response, so a parallel burst never gets more
 * guesses evaluated than the lockout allows, and no answer waits for the bookkeeping. A guess the
 * request never checked (an earlier step refused it) is released, uncounted.
 *
 * Who is guessing decides the budget. A stranger's guesses count against the named identifier
 * (lockout tiers and the per-address hourly limit). A client the account trusts counts only
 * against itself, so a lock strangers caused never stops the owner, and the owner's own wrong
 * guesses still count: a known device (`device:<id>`) with the small TRUSTED_LOCKOUT budget, and
 * the owner's signed-in session re-entering the current password (`session:<id>`) with the session
 * policy (sessionLockout: a soft tier, then a hard one for good, so a stolen session gets a
 * bounded number of guesses in all). A lock of a stranger or of a session is announced to the
 * owner; a known device's is not (its token is void, it is a stranger again).
 *
 * The result says what happened; nothing is signalled by an exception.
 */
type Guesser = { kind: "stranger" } | { kind: "device"; id: string } | { kind: "session"; id: string };

/** What a password check reports back: whether it passed, and whose account it was (if any). */
export interface PasswordCheckOutcome {
  success: boolean;
  userId: string | null;
}

export type GuessResult<T> =
  /** The check ran; its outcome is recorded. */
  | { status: "checked"; outcome: T }
  /** The stranger's per-address attempts are spent (429). */
  | { status: "rate_limited"; retryAfter: number; limits: LimitState[] }
  /** Locked: hard, a running soft lock, or pending guesses that may still lock (423). */
  | { status: "locked"; tier: "soft" | "hard" | "pending"; retryAfter: number | null }
  /** A known device spent its own budget: its token is void and the client is a stranger again. */
  | { status: "device_spent" };

export type GuessRefusal = Exclude<GuessResult<unknown>, { status: "checked" }>;

export interface GuessOf {
  identifier: AccountIdentifier;
  guesser: Guesser;
}

/**
 * A guess its guesser's object has admitted: the ticket its outcome is settled (or, when an earlier
 * step refused the request, released) with.
 */
export interface AdmittedGuess {
  of: GuessOf;
  object: string;
  ticket: string;
  admittedAt: number;
}

export type Admission = { status: "admitted"; guess: AdmittedGuess } | GuessRefusal;

const ACTION = "login";

/**
 * Admits one guess of `of.guesser` at `of.identifier` before its password is checked. A refusal's
 * audit row and a lock's announcement do not change the answer, so they run after the response.
 */
export async function admitGuess(deps: Deps, of: GuessOf): Promise<Admission> {
  const { identifier, guesser } = of;
  const object = guesserObjectName(of);
  const lockout = lockoutOf(deps, guesser);
  const policies = guesser.kind === "stranger" ? accountPolicies(deps.config.rateLimits, ACTION) : [];
  const admittedAt = deps.now().getTime();
  const admitted = await deps.limiter(object, (stub) => stub.admitGuess(ACTION, policies, lockout, admittedAt));
  const lockEvent = admitted.lockEvent;
  if (lockEvent) afterTheAnswer(deps, "guess.announce_failed", () => announce(deps, of, lockEvent, null));
  if (admitted.ok) return { status: "admitted", guess: { of, object, ticket: admitted.ticket, admittedAt } };
  if (guesser.kind === "device") {
    // Guesses still pending on the device's own object (a device's parallel burst, or tokens that
    // only claimed to be this device and were not yet released) are waited for, never a reason to
    // void the device; a lock is its budget spent.
    if (admitted.reason === "locked" && admitted.tier === "pending")
      return { status: "locked", tier: "pending", retryAfter: admitted.retryAfter };
    return { status: "device_spent" };
  }
  const userId = async () => (await findUserByIdentifier(deps.db, identifier))?.id ?? null;
  const kind = identifierKind(identifier);
  const metadata =
    admitted.reason === "rate_limited"
      ? { reason: "rate_limited", policy: admitted.blockedBy, identifier: kind }
      : { reason: "locked", tier: admitted.tier, identifier: kind };
  afterTheAnswer(deps, "guess.refusal_audit_failed", () =>
    recordRefusal(deps, admitted.report, async () => ({ action: "login.throttled", userId: await userId(), metadata })),
  );
  if (admitted.reason === "rate_limited") return { status: "rate_limited", retryAfter: admitted.retryAfter, limits: admitted.limits };
  return { status: "locked", tier: admitted.tier, retryAfter: admitted.retryAfter };
}

/**
 * Runs `check` as the admitted guess. Its outcome is settled after the response: the answer never
 * depends on it, and until it lands the ticket counts as pending, so a burst still gets no more
 * guesses evaluated than the lockout allows. A settle that never lands (the worker died) is safe:
 * the object counts an expired ticket as a failure. A lock the settle begins is announced then too.
 */
export async function runGuess<T extends PasswordCheckOutcome>(deps: Deps, guess: AdmittedGuess, check: () => Promise<T>): Promise<T> {
  let outcome: T;
  try {
    outcome = await check();
  } catch (error) {
    // The guess may have been evaluated: count it as a failure (the object would, once the ticket expired).
    settleGuess(deps, guess, { success: false, userId: null });
    throw error;
  }
  settleGuess(deps, guess, outcome);
  return outcome;
}

/** Withdraws an admitted guess that was never checked (an earlier step refused the request), after the response. */
export function releaseGuess(deps: Deps, guess: AdmittedGuess): void {
  const now = deps.now().getTime();
  afterTheAnswer(deps, "guess.release_failed", () =>
    deps.limiter(guess.object, (stub) => stub.releaseGuess(guess.ticket, ACTION, guess.admittedAt, now)),
  );
}

/** Admits and runs one guess (for callers that have nothing to do between the two). */
export async function guardGuess<T extends PasswordCheckOutcome>(
  deps: Deps,
  of: GuessOf,
  check: () => Promise<T>,
): Promise<GuessResult<T>> {
  const admission = await admitGuess(deps, of);
  if (admission.status !== "admitted") return admission;
  return { status: "checked", outcome: await runGuess(deps, admission.guess, check) };
}

function settleGuess(deps: Deps, guess: AdmittedGuess, outcome: PasswordCheckOutcome): void {
  const now = deps.now().getTime();
  afterTheAnswer(deps, "guess.settle_failed", async () => {
    const settled = await deps.limiter(guess.object, (stub) => stub.settleGuess(guess.ticket, outcome.success, now));
    if (settled.lockEvent) await announce(deps, guess.of, settled.lockEvent, outcome.userId);
  });
}

/** The object a guesser's guesses count in: its own for a trusted client, the identifier's for a stranger. */
function guesserObjectName({ guesser, identifier }: GuessOf): string {
  return guesser.kind === "stranger" ? accountObjectName(identifier) : `${guesser.kind}:${guesser.id}`;
}

/** Runs `task` within the request's `waitUntil`: after-response work that must never fail the request. */
function afterTheAnswer(deps: Deps, event: string, task: () => Promise<unknown>): void {
  deps.waitUntil(task().catch((error: unknown) => log("warn", event, { request_id: deps.meta.requestId, ...describeError(error) })));
}

/** The answer to a refused guess: 429 `rate_limited` or 423 `account_locked`. */
export function guessRefusal(refused: GuessRefusal): AppError {
  if (refused.status === "rate_limited") return new AppError("rate_limited", { retryAfter: refused.retryAfter, limits: refused.limits });
  if (refused.status === "locked" && refused.tier === "hard") {
    return new AppError("account_locked", { detail: "Too many failed attempts. Reset your password to unlock this account." });
  }
  return new AppError("account_locked", { retryAfter: refused.status === "locked" ? (refused.retryAfter ?? 1) : 1 });
}

/** The lockout a guesser's object applies (it remembers the policy of its last guess). */
function lockoutOf(deps: Deps, guesser: Guesser): LockoutPolicy {
  if (guesser.kind === "session") return sessionLockout(deps.config.refreshTokenTtl);
  if (guesser.kind === "device") return TRUSTED_LOCKOUT;
  return deps.config.rateLimits.lockout;
}

/** A lock just began: strangers' and sessions' locks are announced; a known device's is its own business. */
async function announce(deps: Deps, of: GuessOf, tier: NonNullable<LockEvent>, knownUserId: string | null): Promise<void> {
  if (of.guesser.kind === "stranger") await announceLock(deps, of.identifier, tier, knownUserId);
  if (of.guesser.kind === "session") await announceSessionLock(deps, of.identifier, of.guesser.id, tier, knownUserId);
}

/**
 * A session's current-password checks just locked (soft, or for good): someone holding a signed-in
 * session of the account keeps failing its password. One audit row and one `security.alert` event
 * (one unit of work), and one notice to the owner.
 */
async function announceSessionLock(
  deps: Deps,
  identifier: AccountIdentifier,
  sessionId: string,
  tier: NonNullable<LockEvent>,
  knownUserId: string | null,
): Promise<void> {
  const userId = knownUserId ?? (await findUserByIdentifier(deps.db, identifier))?.id;
  if (!userId) return;
  await deps
    .work()
    .audit(
      auditRow(deps, { action: "session.locked", userId, resource: `session:${sessionId}`, metadata: { tier, session_id: sessionId } }),
    )
    .events(eventRows(deps, [{ type: "security.alert", data: { user_id: userId, session_id: sessionId, reason: "session_locked", tier } }]))
    .commit();
  await sendSecurityNotice(deps, userId, tier === "hard" ? "session_locked_for_good" : "session_locked");
}

/** A lock just began: one audit row and, when the account exists, one notice to its owner. */
async function announceLock(deps: Deps, identifier: AccountIdentifier, tier: NonNullable<LockEvent>, knownUserId: string | null) {
  const userId = knownUserId ?? (await findUserByIdentifier(deps.db, identifier))?.id ?? null;
  await recordAudit(deps, {
    action: "account.locked",
    userId,
    resource: userId ? `user:${userId}` : null,
    metadata: { tier, identifier: identifierKind(identifier) },
  });
  if (userId) {
    await sendSecurityNotice(deps, userId, "account_locked");
    await emitEvents(deps, [{ type: "security.alert", data: { user_id: userId, reason: "account_locked", tier } }]);
  }
}
