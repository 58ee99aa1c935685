import { sha256 } from "../crypto";
import type { Deps } from "../kernel/deps";
import { describeError, log } from "../log";
import { networkKey } from "./client-key";
import { MONITOR_NAME, SPRAY_SHARDS } from "./objects/attack-monitor";

/**
 * The worker's side of password-spraying detection (the objects are in attack-monitor.ts): failed
 * logins are counted after the response, and a login reads the mode from a per-isolate view that is
 * refreshed after the response, so the signal never adds a round trip to a login: the monitor is
 * one object for the whole deployment, far from most users.
 */

/** How stale an isolate's view of the mode may get before it is refreshed; the monitor itself decides every 10 s. */
const MODE_CACHE_MS = 10_000;

/** This isolate's view: the last mode read, and when it was read (or last tried). Null: never. */
let view: { underAttack: boolean; at: number } | null = null;

/** Drops this isolate's view of the mode (tests that switch the mode; nothing else needs it). */
export function forgetAttackMode(): void {
  view = null;
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
 * Whether Gatehouse is under a password-spraying attack, as this isolate last heard: never waits.
 * A view older than {@link MODE_CACHE_MS} is served as it is and refreshed after the response.
 *
 * An isolate that has heard nothing yet answers "not under attack" and asks in the background,
 * rather than wait for the far monitor: the view was always up to 10 s (plus the monitor's own
 * 10 s tick) behind, so an attack's first seconds were never challenged anyway; the per-IP and
 * per-account limits and lockouts hold whatever the mode; and an unreachable monitor already reads
 * as "not under attack" (a detector outage must not become a login outage). What an attacker gains
 * is the first few requests of each new isolate, until one monitor round trip has returned.
 */
export function underAttack(deps: Deps): boolean {
  const now = deps.now().getTime();
  const known = view;
  if (!known || Math.abs(now - known.at) >= MODE_CACHE_MS) deps.waitUntil(refreshAttackMode(deps));
  return known?.underAttack ?? false;
}

/**
 * Asks the monitor (after the response, from {@link underAttack}; tests await it to set the view).
 * The view is stamped first, so the isolate's other requests do not ask again meanwhile; a monitor
 * that cannot be read keeps the last mode heard (or "not under attack") and is asked again
 * {@link MODE_CACHE_MS} later. Never throws.
 */
export async function refreshAttackMode(deps: Deps): Promise<void> {
  const now = deps.now().getTime();
  const stamped = { underAttack: view?.underAttack ?? false, at: now };
  view = stamped;
  try {
    const state = await deps.attackMonitor(MONITOR_NAME, (stub) => stub.state());
    // A forgetAttackMode() (tests) or a newer read meanwhile wins over this one.
    if (view === stamped) view = { underAttack: state.underAttack, at: now };
  } catch (error) {
    log("warn", "attack.mode_unreadable", { request_id: deps.meta.requestId, ...describeError(error) });
  }
}
