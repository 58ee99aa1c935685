import { accountPolicies, sessionLockout, TRUSTED_LOCKOUT, type LockoutPolicy } from "../config/rate-limits";
import type { AccountIdentifier } from "../db/users";
import { findUserByIdentifier } from "../db/users";
import { AppError } from "../errors";
import { emitEvents, eventRows } from "../events/events";
import type { Deps } from "../kernel/deps";
import type { LimitState, LockEvent } from "../kernel/objects";
import { auditRow, recordAudit } from "../audit/audit";
import { sendSecurityNotice } from "../mail/notices";
import { settleLoginFromIp, type IpTicket } from "./ip-limits";
import { accountObjectName, identifierKind } from "./object-names";
import { recordRefusal } from "./refusals";

/**
 * The guess guard: every password check (login, current-password checks, verification) runs as one
 * guess of one guesser. The guesser's object admits the guess before the check and records its
 * outcome after, so a parallel burst never gets more guesses evaluated than the lockout allows.
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
export type Guesser = { kind: "stranger" } | { kind: "device"; id: string } | { kind: "session"; id: string };

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
  /** A login's ticket from its IP's object: the outcome is reported there too, in the same round trip. */
  ip?: IpTicket;
}

/** Runs `check` as one guess of `of.guesser` at `of.identifier`. */
export async function guardGuess<T extends PasswordCheckOutcome>(
  deps: Deps,
  of: GuessOf,
  check: () => Promise<T>,
): Promise<GuessResult<T>> {
  const { identifier, guesser, ip } = of;
  const trusted = guesser.kind !== "stranger";
  const name = trusted ? `${guesser.kind}:${guesser.id}` : accountObjectName(identifier);
  const lockout = lockoutOf(deps, guesser);
  const policies = trusted ? [] : accountPolicies(deps.config.rateLimits, "login");
  const admitted = await deps.limiter(name, (stub) => stub.admitGuess("login", policies, lockout, deps.now().getTime()));
  if (admitted.lockEvent) await announce(deps, of, admitted.lockEvent, null);
  if (!admitted.ok) {
    // A device whose budget is spent is tried again as a stranger, with the same IP ticket.
    if (guesser.kind === "device") return { status: "device_spent" };
    if (ip) await settleLoginFromIp(deps, ip, true).catch(() => undefined);
    const userId = async () => (await findUserByIdentifier(deps.db, identifier))?.id ?? null;
    const kind = identifierKind(identifier);
    if (admitted.reason === "rate_limited") {
      await recordRefusal(deps, admitted.report, async () => ({
        action: "login.throttled",
        userId: await userId(),
        metadata: { reason: "rate_limited", policy: admitted.blockedBy, identifier: kind },
      }));
      return { status: "rate_limited", retryAfter: admitted.retryAfter, limits: admitted.limits };
    }
    await recordRefusal(deps, admitted.report, async () => ({
      action: "login.throttled",
      userId: await userId(),
      metadata: { reason: "locked", tier: admitted.tier, identifier: kind },
    }));
    return { status: "locked", tier: admitted.tier, retryAfter: admitted.retryAfter };
  }

  let outcome: T;
  try {
    outcome = await check();
  } catch (error) {
    // The guess may have been evaluated: count it as a failure (the object would, once the ticket expired).
    await deps.limiter(name, (stub) => stub.settleGuess(admitted.ticket, false, deps.now().getTime())).catch(() => undefined);
    if (ip) await settleLoginFromIp(deps, ip, true).catch(() => undefined);
    throw error;
  }
  // The IP's outcome report runs alongside the identifier's settle step: one round trip for both.
  const [settled] = await Promise.all([
    deps.limiter(name, (stub) => stub.settleGuess(admitted.ticket, outcome.success, deps.now().getTime())),
    ip ? settleLoginFromIp(deps, ip, !outcome.success) : undefined,
  ]);
  if (settled.lockEvent) await announce(deps, of, settled.lockEvent, outcome.userId);
  return { status: "checked", outcome };
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
