import { and, eq, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "./client";
import { markerInsert } from "./consumed-tokens";
import { apiKeys, sessions, users, type User } from "./schema";
import { eventInsert, type NewWebhookEvent } from "./webhook-events";

/**
 * A change of a user's credentials as one D1 batch (one transaction): the new user fields, the
 * credentials epoch moved forward, the sessions and API keys that die, and the mailed tokens that
 * are voided, and the events that report it (the outbox). Either all of it happens or none; side effects (KV, Durable Objects, mail) come after
 * and are idempotent.
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
  /** Outbox rows reporting the change, written only if the change is applied (see src/events). */
  events?: NewWebhookEvent[];
  /** More statements for the same batch (an audit row), after everything above. */
  alongside?: BatchItem<"sqlite">[];
}

export interface CommittedChange {
  user: User | undefined;
  revokedSessionIds: string[];
  revokedApiKeys: { id: string; name: string }[];
}

export async function commitCredentialChange(db: Db, change: CredentialChange): Promise<CommittedChange> {
  const { userId, now } = change;
  const keep = change.keepSessionId ?? null;
  const epoch = sql`max(${users.credentialsEpoch} + 1, ${now.getTime()})`;
  const userUpdate = db
    .update(users)
    .set({ ...change.set, updatedAt: now, ...(change.bumpEpoch ? { credentialsEpoch: epoch } : {}) })
    .where(
      and(eq(users.id, userId), isNull(users.deletedAt), change.whileEmail === undefined ? undefined : eq(users.email, change.whileEmail)),
    )
    .returning();
  // Every later statement runs only if the user row was just updated by this batch (its
  // updated_at is this change's time), so a change that lost a race changes nothing at all.
  const applied = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${userId} AND ${users.updatedAt} = ${now.getTime()})`;

  const otherSessions = and(eq(sessions.userId, userId), isNull(sessions.revokedAt), keep ? ne(sessions.id, keep) : undefined);
  const sessionRevocation = db
    .update(sessions)
    .set({ revokedAt: now, revokedReason: change.revokeSessionsReason ?? "credentials_changed" })
    .where(change.revokeSessionsReason === null ? sql`0` : and(otherSessions, applied))
    .returning({ id: sessions.id });

  const userEpoch = sql`(SELECT ${users.credentialsEpoch} FROM ${users} WHERE ${users.id} = ${userId})`;
  const keptSession = db
    .update(sessions)
    .set({ credentialsEpoch: userEpoch, ...(change.reauthenticated ? { authTime: now } : {}) })
    .where(keep ? and(eq(sessions.id, keep), eq(sessions.userId, userId), applied) : sql`0`);

  let keyFilter: SQL | undefined = sql`0`;
  if (change.revokeApiKeys === "all") keyFilter = and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt));
  if (change.revokeApiKeys === "not_kept_session") {
    const notKept = keep ? or(isNull(apiKeys.createdBySessionId), ne(apiKeys.createdBySessionId, keep)) : undefined;
    keyFilter = and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt), notKept);
  }
  const keyRevocation = db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(keyFilter, applied))
    .returning({ id: apiKeys.id, name: apiKeys.name });

  const statements: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]] = [userUpdate, sessionRevocation, keptSession, keyRevocation];
  // Markers (void markers, and the issuance marker of a link that must only work once the change
  // did) are written only if the change applied.
  for (const marker of change.markers ?? []) statements.push(markerInsert(db, marker, applied));
  for (const row of change.events ?? []) statements.push(eventInsert(db, row, applied));
  statements.push(...(change.alongside ?? []));
  const [updatedUsers, revokedSessions, , revokedKeys] = (await db.batch(statements)) as unknown as [
    User[],
    { id: string }[],
    unknown,
    { id: string; name: string }[],
  ];
  return { user: updatedUsers[0], revokedSessionIds: revokedSessions.map((s) => s.id), revokedApiKeys: revokedKeys };
}
