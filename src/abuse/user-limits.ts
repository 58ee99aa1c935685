import type { Deps } from "../deps";
import { rateLimited } from "./limits";
import { userPolicies, type UserAction } from "./policy";
import { recordRefusal } from "./refusals";

/**
 * Limits on what a signed-in user does (username changes, API-key creation), counted in one
 * RateLimiter object per user (`user:<id>`).
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
