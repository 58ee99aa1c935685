import { auditRow, recordAudit, type AuditEntry } from "../audit/audit";
import { sha256 } from "../crypto";
import type { Session, User } from "../db/schema";
import {
  addLogout,
  addRotation,
  anyRevokedBy,
  findSessionByTokenHash,
  findSessionWithUser,
  findTokenView,
  listLiveSessions,
  revokedBy,
  revokeLiveSessions,
  sessionInserts,
  stepUpWrite,
  touchSession,
  type PrimaryTokenView,
  type UserWithSession,
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
import { newRefreshToken, rotationKeyFor, sessionIdOf, successor } from "./refresh-tokens";

/**
 * Sessions and refresh tokens.
 *
 * A new session's refresh token is its id and 256 random bits (refresh-tokens.ts). Each rotation
 * replaces it with its successor `HMAC-SHA256(session.rotation_key, token)`: unpredictable without
 * both the presented token and the per-session key, and the same for every request that presents
 * the same token. That makes concurrent refreshes from several tabs converge on one token instead
 * of forking the session, and lets a retired token presented within the grace window be answered
 * with the live one although only hashes are stored.
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
  const id = crypto.randomUUID();
  const refreshToken = newRefreshToken(id);
  const { insert, beyondCap } = sessionInserts(
    deps.db,
    {
      id,
      userId: user.id,
      credentialsEpoch: user.credentialsEpoch,
      authTime: now,
      amr,
      refreshTokenHash: await sha256(refreshToken),
      rotationKey: await rotationKeyFor(await deps.keys(), id),
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
  const refreshToken = newRefreshToken(sessionId);
  const updated = work.add(
    stepUpWrite(deps.db, {
      sessionId,
      userId: user.id,
      refreshTokenHash: await sha256(refreshToken),
      rotationKey: await rotationKeyFor(await deps.keys(), sessionId),
      amr,
      now,
    }),
  );
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
 * `POST /auth/refresh`. Rotation is one conditional UPDATE on the primary (db/sessions.ts
 * `addRotation`), whose batch also reads what the primary knows of the token for when it did not
 * match, so deciding what to answer then needs no further read.
 *
 * A token that names its session costs one far round trip in all: the session's rotation key is
 * derived, not read, so the rotation goes to the primary at once. When it does not match, the
 * primary's answer settles it: a live session whose stored key is not the derived one (the signing
 * key changed since it began) is rotated with its own key; a request that lost the race to a
 * concurrent refresh of the same token, or a tab presenting a token rotated out less than the grace
 * window ago, gets the live successor; a retired token presented later is treated as stolen: the
 * session dies.
 */
export async function refreshSession(deps: Deps, presented: string): Promise<TokenResponse> {
  const now = deps.now();
  const hash = await sha256(presented);
  const named = sessionIdOf(presented);
  let view: PrimaryTokenView;
  if (named !== null) {
    const attempt = await rotate(deps, { id: named, rotationKey: await rotationKeyFor(await deps.keys(), named) }, presented, hash);
    if ("tokens" in attempt) return attempt.tokens;
    view = attempt.view;
  } else {
    // A bare token (from before tokens named their session) names no key. A replica's copy of its
    // live session does (it never changes), and the rotation, fenced on the primary, is the one far
    // round trip; anything else (unknown there, dead there) is read from the primary.
    const near = await deps.replicas.peek(null, (db) => findSessionWithUser(db, hash));
    if (
      near?.user &&
      isLive(deps, near.session, now) &&
      near.user.isActive &&
      near.session.credentialsEpoch >= near.user.credentialsEpoch
    ) {
      const attempt = await rotate(deps, near.session, presented, hash);
      if ("tokens" in attempt) return attempt.tokens;
      view = attempt.view;
    } else {
      view = await findTokenView(deps.db, hash);
    }
  }
  return refreshFromView(deps, presented, hash, view);
}

/**
 * The rotation of `presented` with the session's rotation key (one round trip): the new pair, or,
 * when it did not match, what the primary knows of the token.
 */
async function rotate(
  deps: Deps,
  session: Pick<Session, "id" | "rotationKey">,
  presented: string,
  hash: string,
): Promise<{ tokens: TokenResponse } | { view: PrimaryTokenView }> {
  const now = deps.now();
  const next = await successor(session.rotationKey, presented);
  const work = deps.work();
  const rotated = addRotation(deps.db, work, {
    sessionId: session.id,
    rotationKey: session.rotationKey,
    fromHash: hash,
    toHash: await sha256(next),
    now,
    idleCutoff: new Date(now.getTime() - deps.config.sessionIdleTtl * 1000),
    ip: deps.meta.ip,
    userAgent: deps.meta.userAgent?.slice(0, 512) ?? null,
  });
  const committed = (await work.commit()) as Committed;
  const [live] = committed.result(rotated.session);
  const user = rotated.user(committed);
  if (live && user) return { tokens: await issueTokens(deps, user, live, next) };
  return { view: rotated.view(committed) };
}

/** A refresh whose token the primary knows as `view` (see {@link refreshSession}). */
async function refreshFromView(deps: Deps, presented: string, hash: string, view: PrimaryTokenView): Promise<TokenResponse> {
  const now = deps.now();
  let { retired } = view;
  if (view.current) {
    const { session } = view.current;
    if (!isLive(deps, session, now)) throw new AppError("invalid_token");
    await requireActiveUser(deps, session, view.current.user);
    const attempt = await rotate(deps, session, presented, hash);
    if ("tokens" in attempt) return attempt.tokens;
    // Lost the race to a concurrent refresh of the same token: it is now retired.
    retired = attempt.view.retired;
  }
  if (!retired) throw new AppError("invalid_token");
  const { session } = retired;
  if (!isLive(deps, session, now)) throw new AppError("invalid_token");

  if (now.getTime() - retired.retiredAt.getTime() <= deps.config.refreshReuseGrace * 1000) {
    let candidate = presented;
    for (let step = 0; step < MAX_GRACE_STEPS; step++) {
      candidate = await successor(session.rotationKey, candidate);
      if ((await sha256(candidate)) === session.refreshTokenHash) {
        // No write: the rotation that retired this token, less than the grace window ago, moved the
        // session's last use to then, so its idle expiry is as good as renewed.
        const user = await requireActiveUser(deps, session, retired.user);
        return issueTokens(deps, user, session, candidate);
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

/** `user`: as read with the session (null: deleted). */
async function requireActiveUser(deps: Deps, session: Session, user: User | null): Promise<User> {
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

/** Why an access token is refused: `invalid_token`, `token_revoked` or `token_expired`. */
export type AccessRefusal = "invalid_token" | "token_revoked" | "token_expired";

/** Why an access token's user and session (as read together) refuse it, or null when they let it through. */
export function accessRefusal(found: UserWithSession | undefined, now: Date): AccessRefusal | null {
  const session = found?.session;
  if (!found || !found.user.isActive) return "invalid_token";
  if (!session || session.revokedAt !== null || session.credentialsEpoch < found.user.credentialsEpoch) return "token_revoked";
  if (session.expiresAt.getTime() <= now.getTime()) return "token_expired";
  return null;
}

/**
 * `POST /auth/logout`: revokes the caller's session (which refuses its access tokens), plus the
 * session of a presented refresh token when it is the caller's own; with `everywhere`, every
 * session of the user. The caller's session has been checked (a page's, an authenticated request's);
 * {@link endSession} says more.
 */
export async function logOut(
  deps: Deps,
  caller: { userId: string; sessionId: string },
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
  await endSession(deps, { userId, sessionId }, options.refreshToken);
}

/**
 * Ends the session an access token names, which needs no read first: one round trip revokes it
 * only while it would let that token through (db/sessions.ts `addLogout`), with the caller's
 * session.revoked outbox row and the audit row, both written only if it did. A presented refresh
 * token of another of the user's sessions ends that one too; its event follows separately (rare: a
 * client normally presents its own). Answers the user and session as they were, or, when nothing
 * was ended, why the token is refused (as `requireAuth()` would have said).
 */
export async function endSession(
  deps: Deps,
  caller: { userId: string; sessionId: string },
  refreshToken?: string,
): Promise<{ user: User; session: Session } | { refusal: AccessRefusal }> {
  const { userId, sessionId } = caller;
  const now = deps.now();
  const work = deps.work();
  const ended = addLogout(deps.db, work, {
    userId,
    sessionId,
    refreshHash: refreshToken ? await sha256(refreshToken) : null,
    reason: "logout",
    now,
  });
  const revokedHere = revokedBy(sessionId, "logout", now);
  work
    .events(eventRows(deps, revokedEvents(userId, [sessionId], "logout")), revokedHere)
    .audit(auditRow(deps, { action: "logout", userId, resource: `session:${sessionId}` }), { onlyIf: revokedHere });
  const committed = (await work.commit()) as Committed;
  const found = ended.found(committed);
  if (committed.result(ended.own).length === 0 || !found?.session) {
    // Read in the same transaction as the refused revocation, so it names the reason; a token the
    // read would accept cannot get here.
    return { refusal: accessRefusal(found, now) ?? "invalid_token" };
  }
  const others = ended.other ? committed.result(ended.other).map((r) => r.id) : [];
  await emitEvents(deps, revokedEvents(userId, others, "logout"));
  return { user: found.user, session: found.session };
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
