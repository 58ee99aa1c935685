import type { BatchItem } from "drizzle-orm/batch";
import { commitCredentialChange, type CommittedChange, type CredentialChange } from "../db/credentials";
import type { Deps } from "../kernel/deps";
import { enqueueEvents, eventRows, type NewEvent } from "../events/events";

/**
 * Applies a credential change: the D1 part in one batch (see db/credentials.ts). The D1 state
 * stops the access tokens of the sessions that died wherever a request checks them (at once on the
 * primary, within the bound of db/replica-reads.ts elsewhere). `events` are written in the same
 * batch (only if the change applies) and queued
 * after the response. Callers add their own side effects (mail, lockout) after this returns.
 */
export async function changeCredentials(
  deps: Deps,
  change: Omit<CredentialChange, "now" | "events" | "alongside"> & {
    events?: NewEvent[];
    /** Statements for the same batch, given the change's time (an audit row that counts what it revoked). */
    alongside?: (now: Date) => BatchItem<"sqlite">[];
  },
): Promise<CommittedChange> {
  const now = deps.now();
  const rows = eventRows({ config: deps.config, now: () => now }, change.events ?? []);
  const committed = await commitCredentialChange(deps.db, { ...change, now, events: rows, alongside: change.alongside?.(now) });
  if (committed.user) enqueueEvents(deps, rows);
  return committed;
}

/** How notices name revoked keys: the owner's own label, never the secret. */
export function keyNames(keys: { name: string }[]): string[] {
  return keys.map((k) => `API key "${k.name}"`);
}
