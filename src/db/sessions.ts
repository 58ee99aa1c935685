import { and, desc, eq, gt, inArray, isNotNull, isNull, lt, ne, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "./client";
import type { Slot, UnitOfWork } from "./unit-of-work";
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

/** The session a rotated-out token belonged to, and when it was rotated out. */
export function findRetiredToken(db: Db, tokenHash: string) {
  return db
    .select({ retiredAt: retiredRefreshTokens.retiredAt, session: sessions })
    .from(retiredRefreshTokens)
    .innerJoin(sessions, eq(sessions.id, retiredRefreshTokens.sessionId))
    .where(eq(retiredRefreshTokens.tokenHash, tokenHash))
    .get();
}

/**
 * Adds to a unit of work the advance of a session from `fromHash` to `toHash` (one round trip): the
 * UPDATE only matches while `fromHash` is still the live token and the session is live on the
 * primary (not revoked, expired or idle; its user active and not past the session's credentials
 * epoch), so of any number of concurrent rotations exactly one succeeds, and a caller that read the
 * session from a stale replica can never rotate a dead one. The retired hash is recorded in the same
 * batch only if it did. Its slots: the rotated session (none when the rotation did not match) and
 * the primary's user row.
 */
export function addRotation(
  db: Db,
  work: UnitOfWork,
  args: {
    sessionId: string;
    userId: string;
    fromHash: string;
    toHash: string;
    now: Date;
    idleCutoff: Date;
    ip: string | null;
    userAgent: string | null;
  },
): { session: Slot<Session[]>; user: Slot<User[]> } {
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
  const user = work.add(db.select().from(users).where(eq(users.id, args.userId)));
  return { session, user };
}

/** The session whose live refresh token has this hash, with its user (null once deleted), in one read. */
export function findSessionWithUser(db: Db, tokenHash: string): Promise<{ session: Session; user: User | null } | undefined> {
  return db
    .select({ session: sessions, user: users })
    .from(sessions)
    .leftJoin(users, and(eq(users.id, sessions.userId), isNull(users.deletedAt)))
    .where(eq(sessions.refreshTokenHash, tokenHash))
    .get();
}

/**
 * The revocation of the user's live sessions among `sessionIds` and, if given, the live session of
 * `refreshHash` when it is the same user's (logout), as a statement of a unit of work: it returns
 * the ids it revoked. Outbox rows that report it check for themselves with {@link revokedBy}.
 */
export function revokeLiveSessions(
  db: Db,
  args: { userId: string; sessionIds: string[]; refreshHash?: string | null; reason: string; now: Date },
) {
  const which = args.refreshHash
    ? or(inArray(sessions.id, args.sessionIds), eq(sessions.refreshTokenHash, args.refreshHash))
    : inArray(sessions.id, args.sessionIds);
  return db
    .update(sessions)
    .set({ revokedAt: args.now, revokedReason: args.reason })
    .where(and(eq(sessions.userId, args.userId), isNull(sessions.revokedAt), which))
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

/** A step-up's write: the live session gets its new refresh token hash, `auth_time` and `amr` (sessions/sessions.ts). */
export function stepUpWrite(db: Db, args: { sessionId: string; userId: string; refreshTokenHash: string; amr: string[]; now: Date }) {
  const { sessionId, userId, now } = args;
  return db
    .update(sessions)
    .set({ refreshTokenHash: args.refreshTokenHash, authTime: now, amr: args.amr, lastUsedAt: now })
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
export function findUserWithSession(
  db: Db,
  userId: string,
  sessionId: string,
): Promise<{ user: User; session: Session | null } | undefined> {
  return db
    .select({ user: users, session: sessions })
    .from(users)
    .leftJoin(sessions, and(eq(sessions.id, sessionId), eq(sessions.userId, users.id)))
    .where(and(eq(users.id, userId), isNull(users.deletedAt)))
    .get();
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
