import { and, eq, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { markerInsert } from "./consumed-tokens";
import { factorRemoval } from "./factors";
import { identityRemoval } from "./identities";
import { apiKeys, sessions, users, type User } from "./schema";
import { UnitOfWork, type CommitResult, type Slot } from "./unit-of-work";
import type { NewWebhookEvent } from "./webhook-events";

/**
 * A change of a user's credentials, as statements of one unit of work (one transaction): the new
 * user fields, the credentials epoch moved forward, the sessions and API keys that die, and the
 * mailed tokens that are voided; the caller adds the events and the audit row that report it.
 * Either all of it happens or none; side effects (KV, Durable Objects, mail) come after and are
 * idempotent.
 */
export interface CredentialChange {
  userId: string;
  now: Date;
  /** New user fields (password hash, address, verified flag…). */
  set: Partial<typeof users.$inferInsert>;
  /** Move the epoch, so every session not kept dies wherever it is checked. */
  bumpEpoch: boolean;
  /** The session that made the change survives and moves to the new epoch (with a fresh auth_time when `reauthenticated`). */
  keepSessionId?: string | null | undefined;
  reauthenticated?: boolean;
  /** Revoke the user's other sessions, with this reason; null keeps them (an epoch bump still ends them). */
  revokeSessionsReason: string | null;
  /** Which live API keys die: all, all but those the kept session created, or none. */
  revokeApiKeys: "all" | "not_kept_session" | "none";
  /** Rows for consumed_tokens (void markers of mailed tokens, issuance markers), written only if the change applies. */
  markers?: { key: string; purpose: string; at: number; expiresAt: number }[];
  /** Apply only while the account still has this address (an email change racing another one). */
  whileEmail?: string;
  /** Apply only while this also holds on the primary (another active superuser remains). */
  onlyIf?: SQL;
  /**
   * Remove second factors and linked identities: all of them (`since` null: a first proof of the
   * address, a deletion) or those added at or after `since` (a revert: older ones stay, API.md
   * "Account integrity").
   */
  removeFactors?: { since: Date | null };
}

/** Where the change's results are, once its unit of work committed. */
export interface CredentialChangeSlots {
  user: Slot<User[]>;
  revokedSessions: Slot<{ id: string }[]>;
  revokedApiKeys: Slot<{ id: string; name: string }[]>;
}

/**
 * Adds a credential change to a unit of work, fenced on the account (still there, not deleted, and
 * at `whileEmail` when given): a change that lost a race writes nothing at all.
 */
export function addCredentialChange(db: Db, work: UnitOfWork, change: CredentialChange): CredentialChangeSlots {
  const { userId, now } = change;
  const keep = change.keepSessionId ?? null;
  const account = and(
    eq(users.id, userId),
    isNull(users.deletedAt),
    change.whileEmail === undefined ? undefined : eq(users.email, change.whileEmail),
  );
  work.fence(
    change.onlyIf
      ? sql`EXISTS (SELECT 1 FROM ${users} WHERE ${account}) AND ${change.onlyIf}`
      : sql`EXISTS (SELECT 1 FROM ${users} WHERE ${account})`,
  );
  const epoch = sql`max(${users.credentialsEpoch} + 1, ${now.getTime()})`;
  const user = work.add(
    db
      .update(users)
      .set({ ...change.set, updatedAt: now, ...(change.bumpEpoch ? { credentialsEpoch: epoch } : {}) })
      .where(eq(users.id, userId))
      .returning(),
  );
  const otherSessions = and(eq(sessions.userId, userId), isNull(sessions.revokedAt), keep ? ne(sessions.id, keep) : undefined);
  const revokedSessions = work.add(
    db
      .update(sessions)
      .set({ revokedAt: now, revokedReason: change.revokeSessionsReason ?? "credentials_changed" })
      .where(change.revokeSessionsReason === null ? sql`0` : otherSessions)
      .returning({ id: sessions.id }),
  );
  if (keep) {
    const userEpoch = sql`(SELECT ${users.credentialsEpoch} FROM ${users} WHERE ${users.id} = ${userId})`;
    work.add(
      db
        .update(sessions)
        .set({ credentialsEpoch: userEpoch, ...(change.reauthenticated ? { authTime: now } : {}) })
        .where(and(eq(sessions.id, keep), eq(sessions.userId, userId))),
    );
  }
  let keyFilter: SQL | undefined = sql`0`;
  if (change.revokeApiKeys === "all") keyFilter = and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt));
  if (change.revokeApiKeys === "not_kept_session") {
    const notKept = keep ? or(isNull(apiKeys.createdBySessionId), ne(apiKeys.createdBySessionId, keep)) : undefined;
    keyFilter = and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt), notKept);
  }
  const revokedApiKeys = work.add(
    db.update(apiKeys).set({ revokedAt: now }).where(keyFilter).returning({ id: apiKeys.id, name: apiKeys.name }),
  );
  for (const marker of change.markers ?? []) work.add(markerInsert(db, marker, sql`1`));
  if (change.removeFactors) {
    work.addAll([...factorRemoval(db, userId, change.removeFactors.since, now), identityRemoval(db, userId, change.removeFactors.since)]);
  }
  return { user, revokedSessions, revokedApiKeys };
}

/** What a credential change did; `user` is undefined when it lost a race and wrote nothing. */
export interface CommittedChange {
  user: User | undefined;
  revokedSessionIds: string[];
  revokedApiKeys: { id: string; name: string }[];
}

/** The change's results from its committed unit of work. */
export function changeResults(committed: CommitResult, slots: CredentialChangeSlots): CommittedChange {
  if (!committed.committed) return { user: undefined, revokedSessionIds: [], revokedApiKeys: [] };
  return {
    user: committed.result(slots.user)[0],
    revokedSessionIds: committed.result(slots.revokedSessions).map((s) => s.id),
    revokedApiKeys: committed.result(slots.revokedApiKeys),
  };
}

/**
 * A credential change on a unit of work of its own, with its outbox rows and no hooks: for work
 * outside a request (the caller queues the events itself). Requests use changeCredentials
 * (sessions/credential-change.ts), whose unit of work logs and queues.
 */
export async function commitCredentialChange(db: Db, change: CredentialChange & { events?: NewWebhookEvent[] }): Promise<CommittedChange> {
  const work = new UnitOfWork(db, { afterCommit: () => undefined });
  const slots = addCredentialChange(db, work, change);
  work.events(change.events ?? []);
  return changeResults(await work.commit(), slots);
}
