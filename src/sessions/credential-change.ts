import { auditRow, type AuditEntry } from "../audit/audit";
import type { NoticeItem } from "../mail/templates";
import { auditInsert } from "../db/audit-logs";
import { addCredentialChange, changeResults, type CommittedChange, type CredentialChange } from "../db/credentials";
import { countRevokedBy } from "../db/sessions";
import { countKeysRevokedAt } from "../db/api-keys";
import { accountTraceErasure } from "../db/erasure";
import { eventRows, type NewEvent } from "../events/events";
import type { Deps } from "../kernel/deps";

/**
 * Applies a credential change as one unit of work (see db/credentials.ts): the D1 part in one batch,
 * with the events and the audit row that report it, both written only if the change is. The D1
 * state stops the access tokens of the sessions that died wherever a request checks them (at once on
 * the primary, within the bound of db/replica-reads.ts elsewhere). Callers add their own side
 * effects (mail, lockout) after this returns.
 */
export async function changeCredentials(
  deps: Deps,
  change: Omit<CredentialChange, "now"> & {
    events?: NewEvent[];
    /**
     * The change's audit row, written in its batch. `countRevokedSessionsAs` and
     * `countRevokedApiKeysAs` name metadata keys for how many sessions and keys it ended.
     */
    audit?: AuditEntry & { countRevokedSessionsAs?: string; countRevokedApiKeysAs?: string };
    /**
     * Erase the account's traces (device rows, IP and user agent of its audit rows, its keys'
     * last IP: db/erasure.ts) at the end of the same batch, after the change's own audit row.
     */
    eraseTraces?: boolean;
  },
): Promise<CommittedChange> {
  const now = deps.now();
  const work = deps.work();
  const slots = addCredentialChange(deps.db, work, { ...change, now });
  work.events(eventRows({ config: deps.config, now: () => now }, change.events ?? []));
  if (change.audit) {
    const { countRevokedSessionsAs: sessionsKey, countRevokedApiKeysAs: keysKey, ...entry } = change.audit;
    const row = auditRow({ meta: deps.meta, now: () => now }, entry);
    const reason = change.revokeSessionsReason ?? "credentials_changed";
    const counts = [
      ...(sessionsKey ? [{ key: sessionsKey, count: countRevokedBy(change.userId, reason, now) }] : []),
      ...(keysKey ? [{ key: keysKey, count: countKeysRevokedAt(change.userId, now) }] : []),
    ];
    work.audit(row, {
      insert: auditInsert(deps.db, row, ...counts),
      logAs: (committed) => ({
        ...row,
        metadata: {
          ...row.metadata,
          ...(sessionsKey ? { [sessionsKey]: committed.result(slots.revokedSessions).length } : {}),
          ...(keysKey ? { [keysKey]: committed.result(slots.revokedApiKeys).length } : {}),
        },
      }),
    });
  }
  if (change.eraseTraces) work.addAll(accountTraceErasure(deps.db, change.userId));
  return changeResults(await work.commit(), slots);
}

/** How notices name revoked keys: the owner's own label, never the secret. */
export function keyNames(keys: { name: string }[]): NoticeItem[] {
  return keys.map((k) => ({ apiKey: k.name }));
}
