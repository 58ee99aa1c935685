import type { AccountIdentifier } from "../db/users";
import { findUserByIdentifier } from "../db/users";
import { AppError } from "../errors";
import type { Deps } from "../kernel/deps";
import { mailboxObjectName } from "../kernel/budgets";
import type { HitResult } from "../kernel/objects";
import type { AuditEntry } from "../audit/audit";
import {
  accountPolicies,
  addressPolicies,
  devicePolicies,
  userPolicies,
  type AccountAction,
  type AddressAction,
  type LimitPolicy,
  type UserAction,
} from "../config/rate-limits";
import { accountObjectName, identifierKind } from "./object-names";
import { recordRefusal } from "./refusals";

/**
 * Limits on requests, counted exactly in RateLimiter objects and answered 429 `rate_limited` when
 * spent (each refusal audited once per window, see refusals.ts): per login identifier
 * (forgot-password, resend-verification; unknown addresses are limited alike), per known device
 * (the same requests on the device's own budget), per signed-in user (username changes, API keys,
 * email changes) and per target address (email changes naming it). Per-IP limits are in ip-limits.ts.
 */

/** Counts one request of `action` against an account identifier, or throws 429. */
export async function enforceAccountLimit(deps: Deps, action: AccountAction, identifier: AccountIdentifier): Promise<void> {
  await enforce(deps, accountObjectName(identifier), action, accountPolicies(deps.config.rateLimits, action), async (blockedBy) => ({
    action: "rate_limited",
    userId: (await findUserByIdentifier(deps.db, identifier))?.id ?? null,
    metadata: { scope: "account", action, policy: blockedBy, identifier: identifierKind(identifier) },
  }));
}

/**
 * The same for a known device (forgot-password, resend-verification): it spends its own budget,
 * not the address's, so strangers exhausting the address's budget never silence its owner.
 */
export async function enforceDeviceLimit(deps: Deps, deviceId: string, action: "forgot_password" | "resend_verification"): Promise<void> {
  await enforce(deps, `device:${deviceId}`, action, devicePolicies(deps.config.rateLimits, action), null);
}

/** Counts one `action` of the signed-in user (`user:<id>`), or throws 429. */
export async function enforceUserLimit(deps: Deps, action: UserAction, userId: string): Promise<void> {
  await enforce(deps, `user:${userId}`, action, userPolicies(deps.config.rateLimits, action), (blockedBy) => ({
    action: "rate_limited",
    userId,
    metadata: { scope: "user", action, policy: blockedBy },
  }));
}

/**
 * Counts one `action` naming `address` (an address the caller does not own yet), whoever asks, or
 * throws 429: any account holder can name any address, so the address itself bounds what all of
 * them together can cause it.
 */
export async function enforceAddressLimit(deps: Deps, action: AddressAction, address: string, userId: string): Promise<void> {
  await enforce(deps, mailboxObjectName(address), action, addressPolicies(deps.config.rateLimits, action), (blockedBy) => ({
    action: "rate_limited",
    userId,
    metadata: { scope: "address", action, policy: blockedBy },
  }));
}

/** One hit on `name`; a refusal is audited (when `audit` says how) and thrown as 429. */
async function enforce(
  deps: Deps,
  name: string,
  action: string,
  policies: LimitPolicy[],
  audit: ((blockedBy: string) => AuditEntry | Promise<AuditEntry>) | null,
): Promise<void> {
  const now = deps.now().getTime();
  const result: HitResult = await deps.limiter(name, (stub) => stub.hit(action, policies, now, audit !== null));
  if (result.ok) return;
  if (audit) await recordRefusal(deps, result.report, () => audit(result.blockedBy));
  throw rateLimited(result);
}

/** 429 with the wait and the limits' state (rendered as `Retry-After` and the RateLimit fields). */
export function rateLimited(refused: { retryAfter: number; limits: HitResult["limits"] }): AppError {
  return new AppError("rate_limited", { retryAfter: refused.retryAfter, limits: refused.limits });
}
