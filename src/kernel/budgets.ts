import type { Deps } from "./deps";
import { budgetPolicies, type Budget } from "../config/rate-limits";
import type { HitResult } from "./objects";

/**
 * Budgets of what Gatehouse does by itself after a request (mail per mailbox, new-IP records per
 * API key): spent in a RateLimiter object like any limit, but never answered with 429; the work
 * over budget is simply not done. Kept apart from limits.ts so the mail layer can use it without
 * importing what sends mail.
 */

/** The RateLimiter object of one mailbox: its mail budgets and the limits on naming it. */
export function mailboxObjectName(address: string): string {
  return `mailbox:${address.trim().toLowerCase()}`;
}

/**
 * Spends one unit of each budget, in order, on the object `name`, stopping at the first that is
 * spent (so a unit is taken from a later budget only when the earlier ones had room). With
 * `report`, a refusal is counted per window for the audit trail (see refusals.ts).
 */
export function spendBudgets(deps: Deps, name: string, budgets: Budget[], report = false): Promise<HitResult> {
  const now = deps.now().getTime();
  return deps.limiter(name, async (stub) => {
    let result: HitResult = { ok: true, limits: [] };
    for (const budget of budgets) {
      result = await stub.hit(budget, budgetPolicies(deps.config.rateLimits, budget), now, report);
      if (!result.ok) break;
    }
    return result;
  });
}
