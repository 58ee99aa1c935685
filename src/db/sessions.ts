import { and, desc, eq, exists, gt, gte, inArray, isNotNull, isNull, lt, ne, notInArray, or, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";
import type { Committed, Slot, UnitOfWork } from "./unit-of-work";
import { retiredRefreshTokens, sessions, users, type Session, type User } from "./schema";
import { olderThan } from "./keyset";

/** Queries on `sessions` and `retired_refresh_tokens`. */

/** A user's sessions that are neither revoked nor expired, absolutely or for idleness. */
function liveSessionsOf(userId: string, now: Date, idleCutoff: Date) {
  return and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now), gt(sessions.lastUsedAt, idleCutoff));
}

/**
 * A new session's statements for a unit of work: its insert and, in the same batch (one
 * transaction), the revocation of the user's live sessions beyond `max`, least recently used first;
 * the new session is never one of them. Both return their rows: the new one, and the ids revoked
 * (their access tokens die with them: see replica-reads.ts).
 *
 * Concurrent logins: each batch runs alone on the primary and keeps its own session plus the
 * `max - 1` most recently used others, so however logins interleave no more than `max` sessions
 * are live once a batch commits. An ended session's access token may work elsewhere for the
 * replica lag plus the isolate cache time, as with every revocation; its refresh token is dead at once.
 */
export function sessionInserts(
  db: Db,
  session: typeof sessions.$inferInsert & { id: string },
  limit: { max: number; now: Date; idleCutoff: Date; reason: string },
) {
  const others = and(liveSessionsOf(session.userId, limit.now, limit.idleCutoff), ne(sessions.id, session.id));
  const kept = db
    .select({ id: sessions.id })
    .from(sessions)
    .where(others)
    .orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt), desc(sessions.id))
    .limit(limit.max - 1);
  return {
    insert: db.insert(sessions).values(session).returning(),
    beyondCap: db
      .update(sessions)
      .set({ revokedAt: limit.now, revokedReason: limit.reason })
      .where(and(others, notInArray(sessions.id, kept)))
      .returning({ id: sessions.id }),
  };
}

export function findSessionByTokenHash(db: Db, tokenHash: string): Promise<Session | undefined> {
  return db.select().from(sessions).where(eq(sessions.refreshTokenHash, tokenHash)).get();
}

/** A rotated-out token: when, its session, and the session's user (null once deleted). */
type RetiredToken = { retiredAt: Date; session: Session; user: User | null };

/**
 * What the primary knows of a presented refresh token: the session whose live token it is (with its
 * user, null once deleted), or else the session it was rotated out of, and when.
 */
export interface PrimaryTokenView {
  current: SessionWithUser | undefined;
  retired: RetiredToken | undefined;
}

export type SessionWithUser = { session: Session; user: User | null };

/**
 * The reads of a {@link PrimaryTokenView}, for a batch: one table each, because Drizzle maps a joined
 * select's batch result by column name, which the joined tables share (`id`…). `sessionId`: a
 * session whose row (and user) to read as well.
 */
function tokenViewReads(db: Db, tokenHash: string, sessionId?: string) {
  const retiredFrom = db
    .select({ id: retiredRefreshTokens.sessionId })
    .from(retiredRefreshTokens)
    .where(eq(retiredRefreshTokens.tokenHash, tokenHash));
  const related = or(
    eq(sessions.refreshTokenHash, tokenHash),
    inArray(sessions.id, retiredFrom),
    sessionId ? eq(sessions.id, sessionId) : undefined,
  );
  const owners = db.select({ id: sessions.userId }).from(sessions).where(related);
  return [
    db.select().from(sessions).where(related),
    db.select().from(retiredRefreshTokens).where(eq(retiredRefreshTokens.tokenHash, tokenHash)),
    db
      .select()
      .from(users)
      .where(and(inArray(users.id, owners), isNull(users.deletedAt))),
  ] as const;
}

type TokenViewRows = [Session[], (typeof retiredRefreshTokens.$inferSelect)[], User[]];

function tokenView(tokenHash: string, [sessionRows, retiredRows, userRows]: TokenViewRows): PrimaryTokenView {
  const withUser = (session: Session) => ({ session, user: userRows.find((u) => u.id === session.userId) ?? null });
  const live = sessionRows.find((s) => s.refreshTokenHash === tokenHash);
  const retiredRow = retiredRows[0];
  const retiredFrom = retiredRow && sessionRows.find((s) => s.id === retiredRow.sessionId);
  return {
    current: live && withUser(live),
    retired: retiredRow && retiredFrom ? { retiredAt: retiredRow.retiredAt, ...withUser(retiredFrom) } : undefined,
  };
}

/** {@link PrimaryTokenView} of a token, in one round trip. */
export async function findTokenView(db: Db, tokenHash: string): Promise<PrimaryTokenView> {
  const [sessionRows, retiredRows, userRows] = await db.batch(tokenViewReads(db, tokenHash));
  return tokenView(tokenHash, [sessionRows, retiredRows, userRows]);
}

/**
 * Adds to a unit of work the advance of a session from `fromHash` to `toHash` (one round trip): the
 * UPDATE only matches while `fromHash` is still the live token, the session's rotation key is the one
 * `toHash` was computed with, and the session is live on the primary (not revoked, expired or idle;
 * its user active and not past the session's credentials epoch), so of any number of concurrent
 * rotations exactly one succeeds, and a caller that read the session from a stale replica, or derived
 * its key, can never rotate a dead one. The retired hash is recorded in the same batch only if it did.
 *
 * Its results: the rotated session (none when the rotation did not match) and its user, and, read
 * after the UPDATE in the same batch, what the primary knows of `fromHash` for a caller whose
 * rotation did not match (see {@link PrimaryTokenView}), so that answering it needs no other read.
 */
export function addRotation(
  db: Db,
  work: UnitOfWork,
  args: {
    sessionId: string;
    rotationKey: string;
    fromHash: string;
    toHash: string;
    now: Date;
    idleCutoff: Date;
    ip: string | null;
    userAgent: string | null;
  },
): {
  session: Slot<Session[]>;
  user: (committed: Committed) => User | undefined;
  view: (committed: Committed) => PrimaryTokenView;
} {
  const userStillValid = sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${sessions.userId} AND ${users.isActive} = 1
    AND ${users.deletedAt} IS NULL AND ${users.credentialsEpoch} <= ${sessions.credentialsEpoch})`;
  const session = work.add(
    db
      .update(sessions)
      .set({ refreshTokenHash: args.toHash, lastUsedAt: args.now, ipAddress: args.ip, userAgent: args.userAgent })
      .where(
        and(
          eq(sessions.id, args.sessionId),
          eq(sessions.refreshTokenHash, args.fromHash),
          eq(sessions.rotationKey, args.rotationKey),
          isNull(sessions.revokedAt),
          gt(sessions.expiresAt, args.now),
          gt(sessions.lastUsedAt, args.idleCutoff),
          userStillValid,
        ),
      )
      .returning(),
  );
  work.add(
    db
      .insert(retiredRefreshTokens)
      .select(
        db
          .select({
            tokenHash: sql<string>`${args.fromHash}`.as("token_hash"),
            sessionId: sessions.id,
            retiredAt: sql<number>`${args.now.getTime()}`.as("retired_at"),
          })
          .from(sessions)
          .where(and(eq(sessions.id, args.sessionId), eq(sessions.refreshTokenHash, args.toHash))),
      )
      .onConflictDoNothing(),
  );
  // Read after the UPDATE: the rotated session's user (a caller that derived the rotation key has
  // not read the session), or what the primary knows of `fromHash` when it did not match.
  const [sessionRows, retiredRows, userRows] = tokenViewReads(db, args.fromHash, args.sessionId);
  const reads = { sessions: work.add(sessionRows), retired: work.add(retiredRows), users: work.add(userRows) };
  return {
    session,
    user: (committed) => {
      const [rotated] = committed.result(session);
      return rotated && committed.result(reads.users).find((u) => u.id === rotated.userId);
    },
    view: (committed) =>
      tokenView(args.fromHash, [committed.result(reads.sessions), committed.result(reads.retired), committed.result(reads.users)]),
  };
}

/** The session whose live refresh token has this hash, with its user (null once deleted), in one read. */
export function findSessionWithUser(db: Db, tokenHash: string): Promise<SessionWithUser | undefined> {
  return db
    .select({ session: sessions, user: users })
    .from(sessions)
    .leftJoin(users, and(eq(users.id, sessions.userId), isNull(users.deletedAt)))
    .where(eq(sessions.refreshTokenHash, tokenHash))
    .get();
}

/**
 * The revocation of the user's live sessions among `sessionIds`, as a statement of a unit of work:
 * it returns the ids it revoked. Outbox rows that report it check for themselves with {@link revokedBy}.
 */
export function revokeLiveSessions(db: Db, args: { userId: string; sessionIds: string[]; reason: string; now: Date }) {
  return db
    .update(sessions)
    .set({ revokedAt: args.now, revokedReason: args.reason })
    .where(and(eq(sessions.userId, args.userId), isNull(sessions.revokedAt), inArray(sessions.id, args.sessionIds)))
    .returning({ id: sessions.id });
}

/** SQL: how many of the user's sessions were revoked at `now` for `reason` (by the batch this is part of). */
export function countRevokedBy(userId: string, reason: string, now: Date) {
  return sql`(SELECT count(*) FROM ${sessions} WHERE ${sessions.userId} = ${userId} AND ${sessions.revokedAt} = ${now.getTime()} AND ${sessions.revokedReason} = ${reason})`;
}

/** SQL true when any of `sessionIds` was revoked at `now` for `reason` (by the batch this is part of). */
export function anyRevokedBy(sessionIds: string[], reason: string, now: Date) {
  return sql`EXISTS (SELECT 1 FROM ${sessions} WHERE ${inArray(sessions.id, sessionIds)} AND ${sessions.revokedAt} = ${now.getTime()} AND ${sessions.revokedReason} = ${reason})`;
}

/** SQL true when `sessionId` was revoked at `now` for `reason` (by the batch this is part of). */
export function revokedBy(sessionId: string, reason: string, now: Date) {
  return sql`EXISTS (SELECT 1 FROM ${sessions} WHERE ${sessions.id} = ${sessionId} AND ${sessions.revokedAt} = ${now.getTime()} AND ${sessions.revokedReason} = ${reason})`;
}

/**
 * A step-up's write: the live session gets its new refresh token hash and rotation key (a session
 * begun before tokens named their session moves to the derived key here), `auth_time` and `amr`
 * (sessions/sessions.ts).
 */
export function stepUpWrite(
  db: Db,
  args: { sessionId: string; userId: string; refreshTokenHash: string; rotationKey: string; amr: string[]; now: Date },
) {
  const { sessionId, userId, now } = args;
  return db
    .update(sessions)
    .set({ refreshTokenHash: args.refreshTokenHash, rotationKey: args.rotationKey, authTime: now, amr: args.amr, lastUsedAt: now })
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
    .returning();
}

/** A hosted page's step-up: the session's `auth_time` and `amr` move, its refresh token stays. */
export function confirmedSession(db: Db, sessionId: string, amr: string[], now: Date) {
  return db
    .update(sessions)
    .set({ authTime: now, amr })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

export async function touchSession(db: Db, sessionId: string, now: Date): Promise<void> {
  await db.update(sessions).set({ lastUsedAt: now }).where(eq(sessions.id, sessionId));
}

/**
 * One page of a user's live sessions, newest first (`created_at`, then `id`), strictly after
 * `before` in that order: keyset pagination along `sessions_user_idx`.
 */
export function listLiveSessions(
  db: Db,
  userId: string,
  window: { now: Date; idleCutoff: Date },
  page: { before: { createdAt: Date; id: string } | null; limit: number },
): Promise<Session[]> {
  const conditions = [liveSessionsOf(userId, window.now, window.idleCutoff)];
  const { before } = page;
  conditions.push(olderThan(sessions, before));
  return db
    .select()
    .from(sessions)
    .where(and(...conditions))
    .orderBy(desc(sessions.createdAt), desc(sessions.id))
    .limit(page.limit)
    .all();
}

/** The user and the session an access token names, in one round trip. */
export function findUserWithSession(db: Db, userId: string, sessionId: string): Promise<UserWithSession | undefined> {
  return db
    .select({ user: users, session: sessions })
    .from(users)
    .leftJoin(sessions, and(eq(sessions.id, sessionId), eq(sessions.userId, users.id)))
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
    .get();
}

export type UserWithSession = { user: User; session: Session | null };

/**
 * A logout by an access token that was only verified offline, as statements of a unit of work (one
 * round trip): first the user and session the token names, as {@link findUserWithSession} reads
 * them (for the refusal's reason when nothing is revoked); then the revocation of the same user's
 * live session of `refreshHash` if it is another one, and of the caller's session; both only while
 * the caller's session lets its access token through, by the rule http/middleware/require-auth.ts
 * applies to a read (user active and not deleted; session not revoked, not expired, not older than
 * the user's credentials epoch). Whether the caller's session was revoked is that rule's answer:
 * `own` is empty when the token was not good.
 */
export function addLogout(
  db: Db,
  work: UnitOfWork,
  args: { userId: string; sessionId: string; refreshHash: string | null; reason: string; now: Date },
): { found: (committed: Committed) => UserWithSession | undefined; own: Slot<{ id: string }[]>; other: Slot<{ id: string }[]> | null } {
  const { userId, sessionId, reason, now } = args;
  const caller = alias(sessions, "caller");
  const callerAccepted = exists(
    db
      .select({ one: sql`1` })
      .from(caller)
      .innerJoin(users, eq(users.id, caller.userId))
      .where(
        and(
          eq(caller.id, sessionId),
          eq(caller.userId, userId),
          isNull(caller.revokedAt),
          gt(caller.expiresAt, now),
          eq(users.isActive, true),
          isNull(users.deletedAt),
          gte(caller.credentialsEpoch, users.credentialsEpoch),
        ),
      ),
  );
  const revoke = (which: SQL | undefined) =>
    db
      .update(sessions)
      .set({ revokedAt: now, revokedReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), which, callerAccepted))
      .returning({ id: sessions.id });
  // Two reads, not a join: see tokenViewReads.
  const userRows = work.add(
    db
      .select()
      .from(users)
      .where(and(eq(users.id, userId), isNull(users.deletedAt))),
  );
  const sessionRows = work.add(
    db
      .select()
      .from(sessions)
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId))),
  );
  const found = (committed: Committed) => {
    const [user] = committed.result(userRows);
    return user && { user, session: committed.result(sessionRows)[0] ?? null };
  };
  // The other session first: the caller's, revoked next, must still pass the check here.
  const other = args.refreshHash
    ? work.add(revoke(and(eq(sessions.refreshTokenHash, args.refreshHash), ne(sessions.id, sessionId))))
    : null;
  const own = work.add(revoke(eq(sessions.id, sessionId)));
  return { found, own, other };
}

/** Sessions expired, or revoked, before `cutoff`, with their retired tokens (the daily clean-up). */
export async function deleteDeadSessions(db: Db, cutoff: Date): Promise<{ sessions: number; retiredTokens: number }> {
  const dead = or(lt(sessions.expiresAt, cutoff), and(isNotNull(sessions.revokedAt), lt(sessions.revokedAt, cutoff)));
  const [retired, deleted] = await db.batch([
    // Query builders, not db.run(sql``): Drizzle's D1 batch cannot bind parameters of raw statements.
    db
      .delete(retiredRefreshTokens)
      .where(inArray(retiredRefreshTokens.sessionId, db.select({ id: sessions.id }).from(sessions).where(dead))),
    db.delete(sessions).where(dead),
  ]);
  return { sessions: deleted.meta.changes, retiredTokens: retired.meta.changes };
}
