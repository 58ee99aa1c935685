import { commitCredentialChange, type CommittedChange, type CredentialChange } from "../db/credentials";
import type { Deps } from "../deps";
import { enqueueEvents, eventRows, type NewEvent } from "../events/events";
import { revokeSessionAccess, revokeUserAccess } from "./revocation";

/**
 * Applies a credential change: the D1 part in one batch (see db/credentials.ts), then the KV
 * blacklist entries for the access tokens of the sessions that died. The D1 state already stops
 * those tokens wherever a request reaches D1; KV is the idempotent second line for readers that
 * check only KV. `events` are written in the same batch (only if the change applies) and queued
 * after the response. Callers add their own side effects (mail, lockout) after this returns.
 */
export async function changeCredentials(
  deps: Deps,
  change: Omit<CredentialChange, "now" | "events"> & { events?: NewEvent[] },
): Promise<CommittedChange> {
  const now = deps.now();
  const rows = eventRows({ config: deps.config, now: () => now }, change.events ?? []);
  const committed = await commitCredentialChange(deps.db, { ...change, now, events: rows });
  if (committed.user) enqueueEvents(deps, rows);
  if (change.bumpEpoch && !change.keepSessionId) await revokeUserAccess(deps, change.userId);
  else await revokeSessionAccess(deps, committed.revokedSessionIds);
  return committed;
}

/** How notices name revoked keys: the owner's own label, never the secret. */
export function keyNames(keys: { name: string }[]): string[] {
  return keys.map((k) => `API key "${k.name}"`);
}
