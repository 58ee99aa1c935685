import type { SpreadPolicy as ObjectSpreadPolicy, RefusalReport } from "../kernel/objects";
import type { Deps } from "../kernel/deps";
import type { AccountIdentifier } from "../db/users";
import { isLoopbackHost } from "../config/dev";
import { ipPolicies, spreadBlocks, type IpAction, type LimitPolicy } from "../config/rate-limits";
import { AppError } from "../errors";
import { describeError, log } from "../log";
import { clientKey } from "./client-key";
import { accountObjectName, ipObjectName } from "./object-names";
import { recordRefusal } from "./refusals";
import { rateLimited } from "./request-limits";

/**
 * Per-IP limits (one RateLimiter object per client, `ip:<client key>`), and the "one client failing
 * across many identifiers" signal the same object keeps: a login's identifier is admitted as a
 * pending attempt under a ticket, whose outcome the guess guard reports alongside the identifier's
 * own settle step, so a failed login costs no extra round trip.
 */

const SPREAD_LIMIT = "login_failures_ip_identifiers_hour";

/**
 * A login admitted by its IP's object, whose outcome is still to be reported. `spreadBlocked`: the
 * IP is blocked for failing across many identifiers (a shared address: an office, a campus, a
 * carrier's NAT), and the login claimed a device token: if the device is one the account knows, it
 * goes on with its own budget; otherwise this is the answer.
 */
export interface IpTicket {
  ticket: string;
  spreadBlocked?: AppError;
}

/** Counts one request of `action` from the caller's IP, or throws 429 `rate_limited` (audited once per window). */
export async function enforceIpLimit(deps: Deps, action: IpAction): Promise<void> {
  await hitIp(deps, action);
}

/**
 * A login's per-IP call: the IP's login limits and, in the same call, the spread signal. The
 * identifier is hashed with the IP's key: the object never holds it in clear.
 */
export async function admitLoginFromIp(deps: Deps, identifier: AccountIdentifier, claimsDevice = false): Promise<IpTicket> {
  const hashed = await hashIdentifier(clientKey(deps.meta.ip), accountObjectName(identifier));
  try {
    return { ticket: (await hitIp(deps, "login", hashed)) ?? "" };
  } catch (error) {
    const spread = error instanceof AppError && error.limits.some((l) => l.name === SPREAD_LIMIT);
    if (!claimsDevice || !spread) throw error;
    return { ticket: "", spreadBlocked: error };
  }
}

/**
 * Reports a login's outcome to its IP's object, after the response (the answer never depends on
 * it); a block that begins writes its one audit row. A login refused before its password check
 * (the attack challenge, a lock) counts as failed. Until the report lands the attempt is pending,
 * which the object counts toward the block; a report that never lands counts as a failure once its
 * ticket expires (objects/spread.ts).
 */
export function settleLoginFromIp(deps: Deps, ip: IpTicket, failed: boolean): void {
  if (!ip.ticket) return;
  const policy = spreadPolicy(deps);
  const now = deps.now().getTime();
  deps.waitUntil(
    (async () => {
      const { blockStarted } = await deps.limiter(ipObjectName(deps.meta.ip), (stub) => stub.settleSpread(ip.ticket, failed, policy, now));
      if (blockStarted) await announceIpBlock(deps, blockStarted, policy);
    })().catch((error: unknown) => log("warn", "ip.settle_failed", { request_id: deps.meta.requestId, ...describeError(error) })),
  );
}

async function hitIp(deps: Deps, action: IpAction, identifier?: string): Promise<string | undefined> {
  const policies = relaxedForLoopback(deps, ipPolicies(deps.config.rateLimits, action));
  const now = deps.now().getTime();
  const spread = spreadBlocks(action) ? { policy: spreadPolicy(deps), ...(identifier !== undefined ? { identifier } : {}) } : undefined;
  const result = await deps.limiter(ipObjectName(deps.meta.ip), (stub) => stub.hit(action, policies, now, true, spread));
  if (result.ok) return result.ticket;
  await recordRefusal(deps, result.report, () => ({ action: "rate_limited", metadata: { scope: "ip", action, policy: result.blockedBy } }));
  throw rateLimited(result);
}

/**
 * `DEV_LOOPBACK_LIMITS=relaxed` (dev mode only; `npm run dev -- --site` sets it): the developer's
 * own loopback client gets 100 times the limits, so clicking around a local site is never refused,
 * while any other address (the tests' `CF-Connecting-IP` clients) keeps the configured ones.
 */
function relaxedForLoopback(deps: Deps, policies: LimitPolicy[]): LimitPolicy[] {
  const factor = deps.config.loopbackLimitFactor;
  if (factor === 1 || deps.meta.ip === null || !isLoopbackHost(deps.meta.ip)) return policies;
  return policies.map((p) => ({ ...p, limit: p.limit * factor }));
}

/** The spread signal's settings: `login_failures_ip_identifiers_hour`, `login_failures_ip_block`, `ATTACK_IP_SPREAD_ACTION`. */
function spreadPolicy(deps: Deps): ObjectSpreadPolicy {
  const { limits, spreadBlockSeconds } = deps.config.rateLimits;
  const { limit, window } = limits.login_failures_ip_identifiers_hour;
  return {
    name: SPREAD_LIMIT,
    identifiers: limit,
    window,
    blockSeconds: spreadBlockSeconds,
    enforce: deps.config.attack.ipSpreadAction === "block",
  };
}

/** One row per block (refusals during it are counted into the row); it names no account. */
async function announceIpBlock(deps: Deps, report: RefusalReport, policy: ObjectSpreadPolicy): Promise<void> {
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
