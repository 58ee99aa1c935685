import { accountPolicies, TRUSTED_LOCKOUT } from "../config/rate-limits";
import type { AccountIdentifier } from "../db/users";
import { findUserByIdentifier } from "../db/users";
import { AppError } from "../errors";
import { emitEvents } from "../events/events";
import type { Deps } from "../kernel/deps";
import type { LimitState, LockEvent } from "../kernel/objects";
import { recordAudit } from "../audit/audit";
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
 * against itself: a known device (`device:<id>`), or the owner's signed-in session re-entering the
 * current password (`session:<id>`), each with the small TRUSTED_LOCKOUT budget, so a lock
 * strangers caused never stops the owner, and the owner's own wrong guesses still count.
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
  const lockout = trusted ? TRUSTED_LOCKOUT : deps.config.rateLimits.lockout;
  const policies = trusted ? [] : accountPolicies(deps.config.rateLimits, "login");
  const admitted = await deps.limiter(name, (stub) => stub.admitGuess("login", policies, lockout, deps.now().getTime()));
  // Locks of trusted clients are their own business: no account-wide announcement.
  if (admitted.lockEvent && !trusted) await announceLock(deps, identifier, admitted.lockEvent, null);
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
  if (settled.lockEvent && !trusted) await announceLock(deps, identifier, settled.lockEvent, outcome.userId);
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
