import type { Deps } from "../kernel/deps";
import { rateLimited } from "./limits";
import { mailboxObjectName } from "../kernel/budgets";
import { addressPolicies, userPolicies, type AddressAction, type UserAction } from "../config/rate-limits";
import { recordRefusal } from "./refusals";

/**
 * Limits on what a signed-in user does (username changes, API-key creation, email changes), counted
 * in one RateLimiter object per user (`user:<id>`), and on what any user does to one target address
 * (email changes), counted in that address's mailbox object (`mailbox:<address>`).
 */

/** Counts one `action` of the user, or throws 429 `rate_limited` (audited once per window). */
export async function enforceUserLimit(deps: Deps, action: UserAction, userId: string): Promise<void> {
  const policies = userPolicies(deps.config.rateLimits, action);
  const now = deps.now().getTime();
  const result = await deps.limiter(`user:${userId}`, (stub) => stub.hit(action, policies, now, true));
  if (result.ok) return;
  await recordRefusal(deps, result.report, () => ({
    action: "rate_limited",
    userId,
    metadata: { scope: "user", action, policy: result.blockedBy },
  }));
  throw rateLimited(result.retryAfter, result.limits);
}

/**
 * Counts one `action` naming `address` (an address the caller does not own yet), whoever asks, or
 * throws 429: any account holder can name any address, so the address itself bounds what all of
 * them together can cause it.
 */
export async function enforceAddressLimit(deps: Deps, action: AddressAction, address: string, userId: string): Promise<void> {
  const policies = addressPolicies(deps.config.rateLimits, action);
  const now = deps.now().getTime();
  const result = await deps.limiter(mailboxObjectName(address), (stub) => stub.hit(action, policies, now, true));
  if (result.ok) return;
  await recordRefusal(deps, result.report, () => ({
    action: "rate_limited",
    userId,
    metadata: { scope: "address", action, policy: result.blockedBy },
  }));
  throw rateLimited(result.retryAfter, result.limits);
}
