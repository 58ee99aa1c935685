import { auditRow, recordAudit, type AuditEntry } from "../audit/audit";
import { base64url, fromBase64url, hmacSha256, randomToken, sha256 } from "../crypto";
import type { Session, User } from "../db/schema";
import {
  addRotation,
  anyRevokedBy,
  findRetiredToken,
  findSessionByTokenHash,
  findSessionWithUser,
  listLiveSessions,
  revokedBy,
  revokeLiveSessions,
  sessionInserts,
  stepUpWrite,
  touchSession,
} from "../db/sessions";
import type { Committed, UnitOfWork } from "../db/unit-of-work";
import { findUserById } from "../db/users";
import { AppError } from "../errors";
import { emitEvents, eventRows, type NewEvent } from "../events/events";
import type { Deps } from "../kernel/deps";
import { toUserResponse, type UserResponse } from "../kernel/user-response";
import { sendSecurityNotice } from "../mail/notices";
import { decodeCursor, toPage } from "../pagination";
import { signAccessToken } from "./access-tokens";
import { changeCredentials } from "./credential-change";

/**
 * Sessions and refresh tokens.
 *
 * A refresh token is 256 random bits for a new session. Each rotation replaces it with its
 * successor `HMAC-SHA256(session.rotation_key, token)`: unpredictable without both the presented
 * token and the per-session key, and the same for every request that presents the same token.
 * That makes concurrent refreshes from several tabs converge on one token instead of forking the
 * session, and lets a retired token presented within the grace window be answered with the live
 * one although only hashes are stored.
 */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  expires_in: number;
  refresh_expires_in: number;
  user: UserResponse;
}

/** How far forward a token within the grace window may be behind the live one. */
const MAX_GRACE_STEPS = 4;

async function successor(rotationKey: string, token: string): Promise<string> {
  return base64url(await hmacSha256(fromBase64url(rotationKey), `gatehouse-refresh:${token}`));
}

/** Human-readable device label from the User-Agent, shown in the session list. */
function describeDevice(userAgent: string | null): string | null {
  if (!userAgent) return null;
  const browser = /(Edg|Firefox|Chrome|Safari|curl|okhttp|Dart)\/?/i.exec(userAgent)?.[1] ?? "Unknown client";
  const os = /(Windows|Android|iPhone|iPad|Mac OS X|Linux|CrOS)/i.exec(userAgent)?.[1];
  return os ? `${browser} on ${os}` : browser;
}

/** A session added to a unit of work, whose tokens exist once the work committed. */
export interface PendingSession {
  issue(committed: Committed): Promise<TokenResponse>;
}

/**
 * Adds a session for a user who just proved who they are to `work`, with the ending of the user's
 * sessions beyond MAX_SESSIONS_PER_USER (least recently used first). The session copies the
 * credentials epoch of the user row whose password was just verified, so a sign-in that raced a
 * password change or reset (and so checked the old hash) starts a session that is already dead:
 * the change moved the epoch past it.
 */
export async function addSession(deps: Deps, work: UnitOfWork, user: User, amr: string[]): Promise<PendingSession> {
  const now = deps.now();
  const refreshToken = randomToken(32);
  const { insert, beyondCap } = sessionInserts(
    deps.db,
    {
      id: crypto.randomUUID(),
      userId: user.id,
      credentialsEpoch: user.credentialsEpoch,
      authTime: now,
      amr,
      refreshTokenHash: await sha256(refreshToken),
      rotationKey: randomToken(32),
      ipAddress: deps.meta.ip,
      userAgent: deps.meta.userAgent?.slice(0, 512) ?? null,
      deviceInfo: describeDevice(deps.meta.userAgent),
      createdAt: now,
      lastUsedAt: now,
      expiresAt: new Date(now.getTime() + deps.config.refreshTokenTtl * 1000),
    },
    {
      max: deps.config.maxSessionsPerUser,
      now,
      idleCutoff: new Date(now.getTime() - deps.config.sessionIdleTtl * 1000),
      reason: "session_limit",
    },
  );
  const inserted = work.add(insert);
  const ended = work.add(beyondCap);
  return {
    async issue(committed) {
      const [session] = committed.result(inserted);
      const revoked = committed.result(ended);
      if (revoked.length > 0) {
        await recordAudit(deps, {
          action: "session.revoked",
          userId: user.id,
          metadata: { reason: "session_limit", sessions_revoked: revoked.length },
        });
      }
      return issueTokens(deps, user, session!, refreshToken, true);
    },
  };
}

/**
 * Signs an access token for the session and shapes the TokenResponse. `fresh`: a sign-in's token
 * (fresh authentication for sensitive actions); a refresh's never is.
 */
async function issueTokens(deps: Deps, user: User, session: Session, refreshToken: string, fresh = false): Promise<TokenResponse> {
  const now = deps.now();
  const { token } = await signAccessToken(
    await deps.keys(),
    deps.config,
    {
      userId: user.id,
      sessionId: session.id,
      authTime: session.authTime ?? session.createdAt,
      amr: sessionAmr(session),
      roles: user.roles,
      fresh,
    },
    now,
  );
  const untilAbsolute = Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000);
  return {
    access_token: token,
    refresh_token: refreshToken,
    token_type: "bearer",
    expires_in: deps.config.accessTokenTtl,
    refresh_expires_in: Math.max(0, Math.min(untilAbsolute, deps.config.sessionIdleTtl)),
    user: toUserResponse(user),
  };
}

/** How the session's user last authenticated (rows from before `amr` existed proved a password). */
export function sessionAmr(session: Pick<Session, "amr">): string[] {
  return session.amr ?? ["pwd"];
}

/**
 * Step-up (`POST /auth/step-up`) on the caller's own session, added to `work` (whose fence the caller
 * sets): the same session gets a new refresh token (the old one stops working), `auth_time` now
 * and the `amr` of this proof, and the access token it issues is fresh.
 */
export async function stepUpSession(deps: Deps, work: UnitOfWork, user: User, sessionId: string, amr: string[]): Promise<PendingSession> {
  const now = deps.now();
  const refreshToken = randomToken(32);
  const updated = work.add(stepUpWrite(deps.db, { sessionId, userId: user.id, refreshTokenHash: await sha256(refreshToken), amr, now }));
  return {
    async issue(committed) {
      const [session] = committed.result(updated);
      if (!session) throw new AppError("invalid_token");
      return issueTokens(deps, user, session, refreshToken, true);
    },
  };
}

/**
 * The live session a refresh token belongs to, for the hosted pages, which know their browser by the
 * `__Host-gh_rt` cookie: read only (the token is neither rotated nor touched), with the liveness
 * checks of a refresh: not revoked, not expired or idle, the user active, and the session not older
 * than the user's credentials epoch. Anything else, a retired token included, is `null`.
 */
export async function sessionFromRefreshToken(deps: Deps, token: string): Promise<{ user: User; session: Session } | null> {
  const session = await findSessionByTokenHash(deps.db, await sha256(token));
  if (!session || !isLive(deps, session, deps.now())) return null;
  const user = await findUserById(deps.db, session.userId);
  if (!user || !user.isActive || session.credentialsEpoch < user.credentialsEpoch) return null;
  return { user, session };
}

/**
 * A hosted page's visit keeps its session alive as a refresh would, without rotating the token:
 * at most once a day (one D1 write), the session's last use moves to now. Returns the seconds the
 * refresh cookie may now live (idle TTL, capped by the session's absolute expiry), or null when
 * nothing was due.
 */
export async function keepSessionAlive(deps: Deps, session: Session): Promise<number | null> {
  const now = deps.now();
  if (now.getTime() - session.lastUsedAt.getTime() < PAGE_TOUCH_EVERY_MS) return null;
  await touchSession(deps.db, session.id, now);
  const untilAbsolute = Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000);
  return Math.max(0, Math.min(untilAbsolute, deps.config.sessionIdleTtl));
}

/** How often a page visit writes its session's last use (see {@link keepSessionAlive}). */
const PAGE_TOUCH_EVERY_MS = 86_400_000;

function isLive(deps: Deps, session: Session, now: Date): boolean {
  return (
    session.revokedAt === null &&
    session.expiresAt.getTime() > now.getTime() &&
    session.lastUsedAt.getTime() + deps.config.sessionIdleTtl * 1000 > now.getTime()
  );
}

/**
 * `POST /auth/refresh`. Rotation is one conditional UPDATE (see db/sessions.ts); a request that
 * loses a race, or a tab presenting a token rotated out less than the grace window ago, gets the
 * live successor. A retired token presented later is treated as stolen: the session dies.
 */
export async function refreshSession(deps: Deps, presented: string): Promise<TokenResponse> {
  const now = deps.now();
  const hash = await sha256(presented);
  const idleCutoff = new Date(now.getTime() - deps.config.sessionIdleTtl * 1000);
  const rotate = async (session: Session) => {
    const next = await successor(session.rotationKey, presented);
    const work = deps.work();
    const rotated = addRotation(deps.db, work, {
      sessionId: session.id,
      userId: session.userId,
      fromHash: hash,
      toHash: await sha256(next),
      now,
      idleCutoff,
      ip: deps.meta.ip,
      userAgent: deps.meta.userAgent?.slice(0, 512) ?? null,
    });
    const committed = (await work.commit()) as Committed;
    const [live] = committed.result(rotated.session);
    const [user] = committed.result(rotated.user);
    return live && user ? issueTokens(deps, user, live, next) : null;
  };
  // Near the user first: a replica's copy of a live session names the rotation key (which never
  // changes), and the rotation itself, fenced on the primary, is the one far round trip. Anything
  // else (unknown here, dead here, or the fenced write did not match) is settled on the primary.
  const near = await deps.replicas.peek(null, (db) => findSessionWithUser(db, hash));
  if (near?.user && isLive(deps, near.session, now) && near.user.isActive && near.session.credentialsEpoch >= near.user.credentialsEpoch) {
    const tokens = await rotate(near.session);
    if (tokens) return tokens;
  }

  const current = await findSessionWithUser(deps.db, hash);
  if (current) {
    if (!isLive(deps, current.session, now)) throw new AppError("invalid_token");
    await requireActiveUser(deps, current.session, current.user);
    const tokens = await rotate(current.session);
    if (tokens) return tokens;
    // Lost the race to a concurrent refresh of the same token: it is now retired, fall through.
  }

  const retired = await findRetiredToken(deps.db, hash);
  if (!retired) throw new AppError("invalid_token");
  const { session } = retired;
  if (!isLive(deps, session, now)) throw new AppError("invalid_token");

  if (now.getTime() - retired.retiredAt.getTime() <= deps.config.refreshReuseGrace * 1000) {
    let candidate = presented;
    for (let step = 0; step < MAX_GRACE_STEPS; step++) {
      candidate = await successor(session.rotationKey, candidate);
      if ((await sha256(candidate)) === session.refreshTokenHash) {
        const user = await requireActiveUser(deps, session);
        await touchSession(deps.db, session.id, now);
        return issueTokens(deps, user, { ...session, lastUsedAt: now }, candidate);
      }
    }
  }

  // Theft: one unit of work ends the session and records it (the alert, the revocation's event
  // only if this request revoked it, the audit row); then the owner is told.
  const reason = "refresh_token_reused";
  await deps
    .work()
    .addAll([revokeLiveSessions(deps.db, { userId: session.userId, sessionIds: [session.id], reason, now })])
    .events(eventRows(deps, [{ type: "security.alert", data: { user_id: session.userId, session_id: session.id, reason } }]))
    .events(eventRows(deps, revokedEvents(session.userId, [session.id], reason)), revokedBy(session.id, reason, now))
    .audit(
      auditRow(deps, {
        action: "refresh_token.reused",
        userId: session.userId,
        resource: `session:${session.id}`,
        metadata: { retired_at: retired.retiredAt.toISOString() },
      }),
    )
    .commit();
  await sendSecurityNotice(deps, session.userId, reason);
  throw new AppError("refresh_token_reused");
}

/** `known`: the user as already read with the session (null: deleted); otherwise read here. */
async function requireActiveUser(deps: Deps, session: Session, known?: User | null): Promise<User> {
  const user = known === undefined ? await findUserById(deps.db, session.userId) : known;
  if (!user || !user.isActive) {
    await revokeSessions(deps, session.userId, [session.id], "user_inactive", { events: false });
    throw new AppError("invalid_token");
  }
  // Credentials changed since this session proved them (password change or reset, email revert, logout-all).
  if (session.credentialsEpoch < user.credentialsEpoch) throw new AppError("invalid_token");
  return user;
}

/**
 * Revokes the given live sessions of the user in D1, which refuses their access tokens from then on
 * (db/replica-reads.ts bounds the delay elsewhere), in one unit of work with what reports it: a
 * `session.revoked` event per session this revoked (unless `events` is false) and, when given, an
 * audit row, written only if a session was revoked. Returns the ids it revoked.
 */
export async function revokeSessions(
  deps: Deps,
  userId: string,
  sessionIds: string[],
  reason: string,
  report: { events?: boolean; audit?: AuditEntry } = {},
): Promise<string[]> {
  if (sessionIds.length === 0) return [];
  const now = deps.now();
  const work = deps.work();
  const revocation = work.add(revokeLiveSessions(deps.db, { userId, sessionIds, reason, now }));
  if (report.events !== false) {
    for (const id of sessionIds) work.events(eventRows(deps, revokedEvents(userId, [id], reason)), revokedBy(id, reason, now));
  }
  if (report.audit) work.audit(auditRow(deps, report.audit), { onlyIf: anyRevokedBy(sessionIds, reason, now) });
  return ((await work.commit()) as Committed).result(revocation).map((r) => r.id);
}

export interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  ip_address: string | null;
  user_agent: string | null;
  device: string | null;
  current: boolean;
}

export interface SessionPage {
  sessions: SessionView[];
  next_cursor: string | null;
}

const SESSIONS_DEFAULT_LIMIT = 50;
export const SESSIONS_MAX_LIMIT = 100;

/**
 * One page of the caller's live sessions, newest first, paged with an opaque cursor.
 * `expires_at` is the earlier of the absolute and idle expiry.
 */
export async function listSessions(
  deps: Deps,
  userId: string,
  currentSessionId: string | null,
  options: { limit?: number | undefined; cursor?: string | undefined } = {},
): Promise<SessionPage> {
  const now = deps.now();
  const idleMs = deps.config.sessionIdleTtl * 1000;
  const limit = options.limit ?? SESSIONS_DEFAULT_LIMIT;
  const before = options.cursor ? decodeCursor(options.cursor) : null;
  const rows = await listLiveSessions(deps.db, userId, { now, idleCutoff: new Date(now.getTime() - idleMs) }, { before, limit: limit + 1 });
  const { page, nextCursor } = toPage(rows, limit);
  const sessions = page.map((s) => ({
    id: s.id,
    created_at: s.createdAt.toISOString(),
    last_used_at: s.lastUsedAt.toISOString(),
    expires_at: new Date(Math.min(s.expiresAt.getTime(), s.lastUsedAt.getTime() + idleMs)).toISOString(),
    ip_address: s.ipAddress,
    user_agent: s.userAgent,
    device: s.deviceInfo,
    current: s.id === currentSessionId,
  }));
  return { sessions, next_cursor: nextCursor };
}

/**
 * `POST /auth/logout`: revokes the caller's session (which refuses its access tokens), plus the
 * session of a presented refresh token when it is the caller's own; with `everywhere`, every
 * session of the user.
 */
export async function logOut(
  deps: Deps,
  // `token` (the presented access token) needs nothing of its own: the session's revocation refuses it.
  caller: { userId: string; sessionId: string; token?: { jti: string; exp: number } | undefined },
  options: { refreshToken?: string | undefined; everywhere: boolean },
): Promise<void> {
  const { userId, sessionId } = caller;
  if (options.everywhere) {
    // The audit row rides in the same batch: one round trip, and it exists exactly when the change does.
    await changeCredentials(deps, {
      userId,
      set: {},
      bumpEpoch: true,
      revokeSessionsReason: "logout_all",
      revokeApiKeys: "none",
      events: [{ type: "session.revoked", data: { user_id: userId, session_id: null, reason: "logout_all" } }],
      audit: { action: "logout.all", userId, countRevokedSessionsAs: "sessions_revoked" },
    });
    return;
  }
  // One round trip: the revocation, the caller's session.revoked outbox rows (written only if this
  // batch revoked it) and the audit row. A presented refresh token of another of the user's sessions
  // ends that one too; its event follows separately (rare: a client normally presents its own).
  const now = deps.now();
  const refreshHash = options.refreshToken ? await sha256(options.refreshToken) : null;
  const work = deps.work();
  const revocation = work.add(revokeLiveSessions(deps.db, { userId, sessionIds: [sessionId], refreshHash, reason: "logout", now }));
  work
    .events(eventRows(deps, revokedEvents(userId, [sessionId], "logout")), revokedBy(sessionId, "logout", now))
    .audit(auditRow(deps, { action: "logout", userId, resource: `session:${sessionId}` }));
  const revoked = ((await work.commit()) as Committed).result(revocation).map((r) => r.id);
  await emitEvents(
    deps,
    revokedEvents(
      userId,
      revoked.filter((id) => id !== sessionId),
      "logout",
    ),
  );
}

/** `DELETE /users/me/sessions/{id}`: 404 unless it is one of the caller's live sessions. */
export async function revokeOwnSession(deps: Deps, userId: string, sessionId: string): Promise<void> {
  const audit = { action: "session.revoked", userId, resource: `session:${sessionId}` } as const;
  const revoked = await revokeSessions(deps, userId, [sessionId], "revoked_by_user", { audit });
  if (revoked.length === 0) throw new AppError("not_found", { detail: "No such session." });
}

/** One `session.revoked` per session that died (`session_id: null` in an event means every session). */
function revokedEvents(userId: string, sessionIds: string[], reason: string): NewEvent[] {
  return sessionIds.map((id) => ({ type: "session.revoked", data: { user_id: userId, session_id: id, reason } }));
}
