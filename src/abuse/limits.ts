import type { User } from "../db/schema";
import { findUserByIdentifier, type AccountIdentifier } from "../db/users";
import type { LimitState, LockEvent, RefusalReport, SpreadPolicy } from "../kernel/objects";
import { AppError } from "../errors";
import { recordAudit } from "../audit/audit";
import { emitEvents } from "../events/events";
import { recordRefusal } from "./refusals";
import type { Deps } from "../kernel/deps";
import { clientKey } from "./client-key";
import { sendSecurityNotice } from "../mail/notices";
import { log } from "../log";
import {
  accountPolicies,
  devicePolicies,
  ipPolicies,
  spreadBlocks,
  TRUSTED_LOCKOUT,
  type AccountAction,
  type IpAction,
} from "../config/rate-limits";

/**
 * Abuse protection as the routes see it: per-IP limits, per-account limits and the login lockout,
 * all counted exactly in the `RateLimiter` Durable Object. The numbers live in
 * src/config/rate-limits.ts. Every call fails closed: an unreachable object is a 503, never a pass.
 *
 * Object names: `ip:<client key>` (see client-key.ts) and `account:<identifier>`, where the
 * identifier is the normalized email or the lower-cased username, whether or not such an account
 * exists, so answers never reveal which accounts exist.
 */

/** The login identifier a guess is counted against. */

/** An identifier for every way `user` can log in (email, and username when set). */
function identifiersOf(user: Pick<User, "email" | "username">): AccountIdentifier[] {
  return user.username ? [{ email: user.email }, { username: user.username }] : [{ email: user.email }];
}

/** Durable Object name for a client IP. */
export function ipObjectName(ip: string | null): string {
  return `ip:${clientKey(ip)}`;
}

/** Durable Object name for a login identifier (emails always contain "@", usernames never do). */
export function accountObjectName(identifier: AccountIdentifier): string {
  const value = "email" in identifier ? identifier.email.trim().normalize("NFC").toLowerCase() : identifier.username.trim().toLowerCase();
  return `account:${value}`;
}

/**
 * Counts one request of `action` from the caller's IP, or throws 429 `rate_limited` when a limit is
 * spent (audited as one `rate_limited` row per window with its count, see refusals.ts).
 */
export async function enforceIpLimit(deps: Deps, action: IpAction): Promise<void> {
  await hitIp(deps, action);
}

/**
 * A login's per-IP call: the IP's login limits and, in the same call, the "one client failing
 * across many identifiers" signal. The identifier is admitted as a pending attempt under a ticket
 * (hashed with the IP's key: the object never holds it in clear); pass the ticket to
 * {@link guardPasswordCheck}, which reports the outcome alongside the identifier's own settle step,
 * so a failed login costs no extra round trip.
 */
export async function admitLoginFromIp(deps: Deps, identifier: AccountIdentifier): Promise<IpTicket> {
  const hashed = await hashIdentifier(clientKey(deps.meta.ip), accountObjectName(identifier));
  return { ticket: (await hitIp(deps, "login", hashed)) ?? "" };
}

/** A login admitted by its IP's object, whose outcome is still to be reported. */
export interface IpTicket {
  ticket: string;
}

/** A login refused before its password check (the attack challenge): reported like a 423 or 429. */
export async function settleRefusedLogin(deps: Deps, ip: IpTicket): Promise<void> {
  await settleIp(deps, ip, true).catch(() => undefined);
}

async function hitIp(deps: Deps, action: IpAction, identifier?: string): Promise<string | undefined> {
  const policies = ipPolicies(deps.config.rateLimits, action);
  const now = deps.now().getTime();
  const spread = spreadBlocks(action) ? { policy: spreadPolicy(deps), ...(identifier !== undefined ? { identifier } : {}) } : undefined;
  const result = await deps.limiter(ipObjectName(deps.meta.ip), (stub) => stub.hit(action, policies, now, true, spread));
  if (result.ok) return result.ticket;
  await recordRefusal(deps, result.report, () => ({ action: "rate_limited", metadata: { scope: "ip", action, policy: result.blockedBy } }));
  throw rateLimited(result.retryAfter, result.limits);
}

/** The spread signal's settings: `login_failures_ip_identifiers_hour`, `login_failures_ip_block`, `ATTACK_IP_SPREAD_ACTION`. */
function spreadPolicy(deps: Deps): SpreadPolicy {
  const { limits, spreadBlockSeconds } = deps.config.rateLimits;
  const { limit, window } = limits.login_failures_ip_identifiers_hour;
  return {
    name: "login_failures_ip_identifiers_hour",
    identifiers: limit,
    window,
    blockSeconds: spreadBlockSeconds,
    enforce: deps.config.attack.ipSpreadAction === "block",
  };
}

/** Reports a login's outcome to its IP's object; a block that begins writes its one audit row. */
async function settleIp(deps: Deps, ip: IpTicket, failed: boolean): Promise<void> {
  if (!ip.ticket) return;
  const policy = spreadPolicy(deps);
  const { blockStarted } = await deps.limiter(ipObjectName(deps.meta.ip), (stub) =>
    stub.settleSpread(ip.ticket, failed, policy, deps.now().getTime()),
  );
  if (blockStarted) await announceIpBlock(deps, blockStarted, policy);
}

/** One row per block (refusals during it are counted into the row); it names no account. */
async function announceIpBlock(deps: Deps, report: RefusalReport, policy: SpreadPolicy): Promise<void> {
  log("warn", "attack.ip_spread", {
    action: policy.enforce ? "block" : "log",
    identifiers: policy.identifiers,
    block_seconds: policy.blockSeconds,
  });
  await recordRefusal(deps, report, () => ({
    action: "ip.blocked",
    metadata: {
      reason: "failures_across_identifiers",
      policy: policy.name,
      identifiers: policy.identifiers,
      failures_window_seconds: policy.window,
      block_seconds: policy.blockSeconds,
      enforced: policy.enforce,
    },
  }));
}

/** SHA-256 of the identifier salted with the client key, truncated: enough to tell identifiers apart. */
async function hashIdentifier(salt: string, identifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${salt}\n${identifier}`));
  return [...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Counts one request of `action` against an account identifier (forgot-password, resend
 * verification), or throws 429. Keyed by the identifier, so unknown addresses are limited alike.
 */
export async function enforceAccountLimit(deps: Deps, action: AccountAction, identifier: AccountIdentifier): Promise<void> {
  const policies = accountPolicies(deps.config.rateLimits, action);
  const now = deps.now().getTime();
  const result = await deps.limiter(accountObjectName(identifier), (stub) => stub.hit(action, policies, now, true));
  if (result.ok) return;
  await recordRefusal(deps, result.report, async () => ({
    action: "rate_limited",
    userId: await accountUserId(deps, identifier),
    metadata: { scope: "account", action, policy: result.blockedBy, identifier: identifierKind(identifier) },
  }));
  throw rateLimited(result.retryAfter, result.limits);
}

/**
 * The same for a known device (forgot-password, resend-verification): it spends its own budget,
 * not the address's, so strangers exhausting the address's budget never silence its owner.
 */
export async function enforceDeviceLimit(deps: Deps, deviceId: string, action: "forgot_password" | "resend_verification"): Promise<void> {
  const policies = devicePolicies(deps.config.rateLimits, action);
  const now = deps.now().getTime();
  const result = await deps.limiter(`device:${deviceId}`, (stub) => stub.hit(action, policies, now));
  if (!result.ok) throw rateLimited(result.retryAfter, result.limits);
}

/** What a password check reports back: whether it passed, and whose account it was (if any). */
export interface PasswordCheckOutcome {
  success: boolean;
  userId: string | null;
}

/**
 * Who is guessing. A stranger's guesses count against the named identifier (lockout tiers and the
 * per-address hourly limit). A client the account trusts counts only against itself: a known
 * device (`device:<id>`), or the owner's signed-in session re-entering the current password
 * (`session:<id>`), each with the small TRUSTED_LOCKOUT budget, so a lock strangers caused never
 * stops the owner, and the owner's own wrong guesses still count.
 */
export type Guesser = { kind: "stranger" } | { kind: "device"; id: string } | { kind: "session"; id: string };

/** A known device spent its failure budget: the caller voids its token and retries as a stranger. */
export class DeviceBudgetSpent extends Error {
  override name = "DeviceBudgetSpent";
}

/**
 * Runs `check` (a password verification) as one guess. The guesser's object admits the guess
 * before the check and records its outcome after, so a parallel burst never gets more guesses
 * evaluated than the lockout allows. Throws 429 (per-address attempts per hour) or 423
 * `account_locked` before `check` runs (for a known device: DeviceBudgetSpent); a success clears
 * the failure count. Used by login and by every endpoint that asks for a password.
 */
export async function guardPasswordCheck<T extends PasswordCheckOutcome>(
  deps: Deps,
  identifier: AccountIdentifier,
  check: () => Promise<T>,
  guesser: Guesser = { kind: "stranger" },
  ip?: IpTicket,
): Promise<T> {
  if (!ip) return guardGuess(deps, identifier, check, guesser);
  let outcome: T | undefined;
  try {
    outcome = await guardGuess(deps, identifier, check, guesser, (success) => settleIp(deps, ip, !success));
    return outcome;
  } catch (error) {
    // Refused (423/429) or broken before an outcome: a failed login from this IP. A device whose
    // budget is spent is retried as a stranger with the same ticket, so it is not settled here.
    if (!(error instanceof DeviceBudgetSpent)) await settleIp(deps, ip, true).catch(() => undefined);
    throw error;
  }
}

async function guardGuess<T extends PasswordCheckOutcome>(
  deps: Deps,
  identifier: AccountIdentifier,
  check: () => Promise<T>,
  guesser: Guesser,
  alongside?: (success: boolean) => Promise<void>,
): Promise<T> {
  const trusted = guesser.kind !== "stranger";
  const name = trusted ? `${guesser.kind}:${guesser.id}` : accountObjectName(identifier);
  const lockout = trusted ? TRUSTED_LOCKOUT : deps.config.rateLimits.lockout;
  const policies = trusted ? [] : accountPolicies(deps.config.rateLimits, "login");
  const admitted = await deps.limiter(name, (stub) => stub.admitGuess("login", policies, lockout, deps.now().getTime()));
  // Locks of trusted clients are their own business: no account-wide announcement.
  if (admitted.lockEvent && !trusted) await announceLock(deps, identifier, admitted.lockEvent, null);
  if (!admitted.ok) {
    if (guesser.kind === "device") throw new DeviceBudgetSpent();
    // One row per window of refusals (see refusals.ts); only its first refusal looks the account up.
    const userId = () => accountUserId(deps, identifier);
    const kind = identifierKind(identifier);
    if (admitted.reason === "rate_limited") {
      await recordRefusal(deps, admitted.report, async () => ({
        action: "login.throttled",
        userId: await userId(),
        metadata: { reason: "rate_limited", policy: admitted.blockedBy, identifier: kind },
      }));
      throw rateLimited(admitted.retryAfter, admitted.limits);
    }
    await recordRefusal(deps, admitted.report, async () => ({
      action: "login.throttled",
      userId: await userId(),
      metadata: { reason: "locked", tier: admitted.tier, identifier: kind },
    }));
    throw accountLocked(admitted.tier, admitted.retryAfter);
  }

  let outcome: T;
  try {
    outcome = await check();
  } catch (error) {
    // The guess may have been evaluated: count it as a failure (the object would, once the ticket expired).
    await deps.limiter(name, (stub) => stub.settleGuess(admitted.ticket, false, deps.now().getTime())).catch(() => undefined);
    throw error;
  }
  // The IP's outcome report runs alongside the identifier's settle step: one round trip for both.
  const [settled] = await Promise.all([
    deps.limiter(name, (stub) => stub.settleGuess(admitted.ticket, outcome.success, deps.now().getTime())),
    alongside?.(outcome.success),
  ]);
  if (settled.lockEvent && !trusted) await announceLock(deps, identifier, settled.lockEvent, outcome.userId);
  return outcome;
}

/** What administrators see of an account's lockout: the worst state over its identifiers. */
export interface LockView {
  locked: boolean;
  hard: boolean;
  locked_until: string | null;
  failures: number;
}

export async function inspectLockout(deps: Deps, user: Pick<User, "email" | "username">): Promise<LockView> {
  const now = deps.now().getTime();
  const states = await Promise.all(
    identifiersOf(user).map((identifier) => deps.limiter(accountObjectName(identifier), (stub) => stub.inspect(now))),
  );
  const hard = states.some((s) => s.hardLocked);
  const until = Math.max(0, ...states.map((s) => (s.lockedUntil !== null && s.lockedUntil > now ? s.lockedUntil : 0)));
  return {
    locked: hard || until > 0,
    hard,
    locked_until: until > 0 ? new Date(until).toISOString() : null,
    failures: Math.max(0, ...states.map((s) => s.failures)),
  };
}

/**
 * Clears the failure count and any lock (30-minute or hard) on every identifier of `user`. Call it
 * after a successful password reset (`reason: "password_reset"`) or from an administrator's
 * unlock. Writes `account.unlocked` when something was actually locked, and always for an
 * administrator (`actorUserId`).
 */
export async function clearLockout(
  deps: Deps,
  user: Pick<User, "id" | "email" | "username">,
  reason: "password_reset" | "admin",
  actorUserId: string | null = null,
): Promise<void> {
  const now = deps.now().getTime();
  const results = await Promise.all(
    identifiersOf(user).map((identifier) => deps.limiter(accountObjectName(identifier), (stub) => stub.unlock(now))),
  );
  const wasLocked = results.some((r) => r.wasLocked);
  // An administrator's unlock is recorded even when there was nothing to lift: the act is the event.
  if (wasLocked || actorUserId !== null) {
    await recordAudit(deps, {
      action: "account.unlocked",
      userId: user.id,
      actorUserId,
      resource: `user:${user.id}`,
      metadata: { reason, was_locked: wasLocked },
    });
  }
}

/** A lock just began: one audit row and, when the account exists, one notice to its owner. */
async function announceLock(deps: Deps, identifier: AccountIdentifier, tier: NonNullable<LockEvent>, knownUserId: string | null) {
  const userId = knownUserId ?? (await accountUserId(deps, identifier));
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

async function accountUserId(deps: Deps, identifier: AccountIdentifier): Promise<string | null> {
  const user = await findUserByIdentifier(deps.db, identifier);
  return user?.id ?? null;
}

/** Audit rows name the kind of identifier only: a mistyped "email" may be a password. */
function identifierKind(identifier: AccountIdentifier): "email" | "username" {
  return "email" in identifier ? "email" : "username";
}

/** 429 with `Retry-After` and the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10). */
export function rateLimited(retryAfter: number, limits: LimitState[]): AppError {
  return new AppError("rate_limited", { headers: { "Retry-After": String(retryAfter), ...rateLimitHeaders(limits) } });
}

/** `RateLimit-Policy: "name";q=5;w=60` and `RateLimit: "name";r=0;t=42`, one list member per limit. */
function rateLimitHeaders(limits: LimitState[]): Record<string, string> {
  return {
    "RateLimit-Policy": limits.map((l) => `"${l.name}";q=${l.limit};w=${l.window}`).join(", "),
    RateLimit: limits.map((l) => `"${l.name}";r=${l.remaining};t=${l.reset}`).join(", "),
  };
}

function accountLocked(tier: "soft" | "hard" | "pending", retryAfter: number | null): AppError {
  if (tier === "hard") {
    return new AppError("account_locked", { detail: "Too many failed attempts. Reset your password to unlock this account." });
  }
  return new AppError("account_locked", { headers: { "Retry-After": String(retryAfter ?? 1) } });
}
