import { sha256 } from "../crypto";
import type { Deps } from "../kernel/deps";
import { describeError, log } from "../log";
import { networkKey } from "./client-key";
import { MONITOR_NAME, SPRAY_SHARDS } from "./objects/attack-monitor";

/**
 * The worker's side of password-spraying detection (the objects are in attack-monitor.ts): failed
 * logins are counted after the response, and a login reads the mode from a per-isolate cache, so
 * the signal adds no round trip to a login (at most one Durable Object call per isolate every
 * {@link MODE_CACHE_MS}, run alongside the login's own first call).
 */

/** How stale an isolate's view of the mode may be; the monitor itself decides every 10 s. */
const MODE_CACHE_MS = 10_000;

let cachedMode: { underAttack: boolean; at: number } | null = null;

/** Drops this isolate's view of the mode (tests that switch the mode; nothing else needs it). */
export function forgetAttackMode(): void {
  cachedMode = null;
}

/**
 * Counts one stranger's failed password check for the spraying signal, after the response, in the
 * shard of its identifier (`account:<normalized identifier>`), with the client's network (see
 * client-key.ts): both hashed, so the objects never hold an identifier or an address. Only
 * strangers count: a known device's or a signed-in session's failures are the owner's, and an
 * attacker's own device tokens must not feed the mode they skip. Never throws.
 */
export function countLoginFailure(deps: Deps, identifier: string): void {
  const now = deps.now().getTime();
  const network = networkKey(deps.meta.ip, deps.meta.place?.asn ?? null);
  deps.waitUntil(
    (async () => {
      const [hash, networkHash] = await Promise.all([sha256(`spraying\n${identifier}`), sha256(`spraying-network\n${network}`)]);
      await deps.attackMonitor(`shard:${hash.charCodeAt(22) % SPRAY_SHARDS}`, (stub) =>
        stub.recordFailure(now, hash.slice(0, 22), networkHash.slice(0, 16)),
      );
    })().catch((error: unknown) => log("warn", "attack.count_failed", { request_id: deps.meta.requestId, ...describeError(error) })),
  );
}

/**
 * Whether Gatehouse is under a password-spraying attack, as of at most {@link MODE_CACHE_MS} ago.
 * An unreachable monitor reads as "not under attack": the per-IP and per-account limits still hold,
 * and a detector outage must not turn into a login outage.
 */
export async function underAttack(deps: Deps): Promise<boolean> {
  const now = deps.now().getTime();
  if (cachedMode && Math.abs(now - cachedMode.at) < MODE_CACHE_MS) return cachedMode.underAttack;
  try {
    const state = await deps.attackMonitor(MONITOR_NAME, (stub) => stub.state());
    cachedMode = { underAttack: state.underAttack, at: now };
  } catch (error) {
    log("warn", "attack.mode_unreadable", { request_id: deps.meta.requestId, ...describeError(error) });
    cachedMode = { underAttack: cachedMode?.underAttack ?? false, at: now };
  }
  return cachedMode.underAttack;
}
