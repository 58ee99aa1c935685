/**
 * The Gatehouse browser client: cookie-mode sign-in for a site on the same site as Gatehouse
 * (app.example.com + auth.example.com). The refresh token lives only in Gatehouse's HttpOnly
 * `__Host-gh_rt` cookie; the access token lives only in this module's memory. No dependencies; the
 * worker serves it as an ES module at `/client/v1/gatehouse.js` (built by scripts/build-client.mjs).
 *
 * Tabs of one site coordinate. Refreshes are single-flight across tabs: a Web Lock elects the one
 * tab that sends `POST /auth/refresh`; it posts the new access token on the BroadcastChannel
 * "gatehouse" and then a `released` note, both before it lets the lock go. A tab that had to queue
 * for the lock either finds the new token already delivered or waits for that `released` note
 * (one sender's messages arrive in order, so the token precedes it) instead of refreshing again.
 * Without Web Locks, a tab announces its refresh on the channel and peers wait for it (best effort).
 * Sign-in and sign-out are broadcast too, so every tab follows.
 */

import type { LoginBody, Message, Problem, RegisterBody, Session } from "./types";

export type { LoginBody, Message, Problem, RegisterBody, Session, User } from "./types";

export interface GatehouseOptions {
  /** Gatehouse's origin, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** The clock, in milliseconds since the epoch (default `Date.now`); tests move it to age tokens. */
  now?: () => number;
  /** An access token counts as expired this many seconds before it ends (default 30; at most half its lifetime). */
  skewSeconds?: number;
  /** The `fetch` to send requests with (default the global one). */
  fetch?: typeof fetch;
}

export interface SignOutEvent {
  /** `logout`: this tab logged out; `other_tab`: another tab did, or found the session gone; `session_ended`: Gatehouse refused the session (revoked, expired). */
  reason: "logout" | "other_tab" | "session_ended";
}

export interface Gatehouse {
  /** Creates the account; signed in at once (201), or `{message}` when the address must be verified first (202). */
  register(body: RegisterBody): Promise<Session | Message>;
  login(body: LoginBody): Promise<Session>;
  /** Ends this session (`everywhere`: every session of the user) and signs every tab out. */
  logout(options?: { everywhere?: boolean }): Promise<void>;
  /** The current access token, refreshed first when missing or (nearly) expired; `null` when signed out. */
  getAccessToken(): Promise<string | null>;
  /** `fetch` with `Authorization: Bearer <access token>`; on 401 `token_expired` refreshes once and retries. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Called whenever this tab goes from signed in to signed out; returns the unsubscribe function. */
  onSignOut(listener: (event: SignOutEvent) => void): () => void;
  /** Stops listening to other tabs (for pages that tear the client down). */
  close(): void;
}

/** A non-2xx answer from Gatehouse: `code` is the problem's (`invalid_credentials`, `rate_limited`, …). */
export class GatehouseError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined) {
    super(problem ? `${problem.title}: ${problem.detail}` : `Gatehouse answered ${status}`);
    this.name = "GatehouseError";
    this.status = status;
    this.code = problem?.code ?? "http_error";
    this.problem = problem;
  }
}

const CHANNEL_NAME = "gatehouse";
const DELIVERY_HEADERS = { "Gatehouse-Token-Delivery": "cookie" };
/** How long a tab waits for a peer's refresh outcome before refreshing itself (the peer may have closed). */
const PEER_WAIT_MS = 3_000;
/** A refresh still unanswered after this long is abandoned, so a hung request never holds every tab's lock. */
const REFRESH_TIMEOUT_MS = 15_000;

interface CurrentToken {
  token: string;
  /** By this tab's clock: the moment the token stops counting as valid (skew already subtracted). */
  usableUntil: number;
  /** By this tab's clock: when the token ends. */
  expiresAt: number;
  sid: string | undefined;
  sub: string | undefined;
}

type TabMessage =
  /** A newer access token (refresh, login, registration); `expires_in_ms` is what remains of it. */
  | { type: "token"; access_token: string; expires_in_ms: number }
  /** A session ended (logout, or a refresh refused): tabs holding a token of `sid` (or of user `sub`) sign out. */
  | { type: "signed-out"; sid?: string; sub?: string }
  /** Without Web Locks: "I am refreshing now". */
  | { type: "refreshing" }
  /** The refreshing tab is done: it found a token, no session, or an error; posted after the token or sign-out. */
  | { type: "released"; result: "token" | "none" | "error" };

type Envelope = TabMessage & { gatehouse: 1; base: string };

/** Creates a client for one Gatehouse deployment. Create it once per page. */
export function createGatehouse(options: GatehouseOptions): Gatehouse {
  const base = new URL(options.baseUrl).origin;
  const now = options.now ?? (() => Date.now());
  const skewMs = (options.skewSeconds ?? 30) * 1000;
  const send: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const lockName = `gatehouse:refresh:${base}`;

  let current: CurrentToken | null = null;
  let inflight: Promise<string | null> | null = null;
  /** Without Web Locks: until when a peer's announced refresh counts as running. */
  let peerRefreshingUntil = 0;
  const listeners = new Set<(event: SignOutEvent) => void>();
  const releaseWaiters = new Set<(result: "token" | "none" | "error" | "timeout") => void>();

  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL_NAME) : null;
  // Locks elect one refreshing tab; without a channel the others could not hear its result.
  const locks = channel && typeof navigator !== "undefined" && navigator.locks ? navigator.locks : null;
  channel?.addEventListener("message", (event: MessageEvent<unknown>) => receive(event.data));

  function post(message: TabMessage): void {
    const envelope: Envelope = { ...message, gatehouse: 1, base };
    channel?.postMessage(envelope);
  }

  function receive(data: unknown): void {
    if (!isEnvelope(data) || data.base !== base) return;
    switch (data.type) {
      case "token":
        if (typeof data.access_token === "string" && typeof data.expires_in_ms === "number") {
          adopt(data.access_token, data.expires_in_ms);
        }
        break;
      case "signed-out":
        if (current && ((data.sid !== undefined && data.sid === current.sid) || (data.sub !== undefined && data.sub === current.sub))) {
          signOut("other_tab");
        }
        break;
      case "refreshing":
        peerRefreshingUntil = Date.now() + PEER_WAIT_MS;
        break;
      case "released":
        peerRefreshingUntil = 0;
        for (const waiter of [...releaseWaiters]) waiter(data.result);
        break;
    }
  }

  /** Keeps a token if it outlives the one held (a late message never replaces a newer token). */
  function adopt(token: string, expiresInMs: number): void {
    const at = now();
    const expiresAt = at + expiresInMs;
    if (current && current.token !== token && current.expiresAt > expiresAt) return;
    const claims = claimsOf(token);
    current = { token, expiresAt, usableUntil: expiresAt - Math.min(skewMs, expiresInMs / 2), sid: claims.sid, sub: claims.sub };
  }

  function announceToken(): void {
    if (current) post({ type: "token", access_token: current.token, expires_in_ms: Math.max(0, current.expiresAt - now()) });
  }

  function signOut(reason: SignOutEvent["reason"]): void {
    const wasSignedIn = current !== null;
    current = null;
    if (!wasSignedIn && reason !== "logout") return;
    for (const listener of [...listeners]) {
      try {
        listener({ reason });
      } catch (error) {
        // One broken listener must not keep the others from hearing about the sign-out.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  function usable(): string | null {
    return current && now() < current.usableUntil ? current.token : null;
  }

  /** One refresh per tab at a time; `stale` is the token the caller found unusable (or null). */
  function refresh(stale: string | null): Promise<string | null> {
    inflight ??= coordinatedRefresh(stale).finally(() => {
      inflight = null;
    });
    return inflight;
  }

  async function coordinatedRefresh(stale: string | null): Promise<string | null> {
    if (locks) {
      const immediate = await locks.request(lockName, { ifAvailable: true }, async (lock) =>
        lock ? { token: await refreshAsHolder(stale, false) } : null,
      );
      if (immediate) return immediate.token;
      // A peer holds the lock: it is refreshing now. Queue behind it, then most likely use its token.
      return locks.request(lockName, () => refreshAsHolder(stale, true));
    }
    if (channel && Date.now() < peerRefreshingUntil) return refreshAsHolder(stale, true);
    post({ type: "refreshing" });
    return refreshAsHolder(stale, false);
  }

  /**
   * Runs while this tab holds the refresh lock (or, without locks, its turn). Ends with exactly one
   * `released` message, posted after any token or sign-out message, so peers queued behind learn
   * the outcome in order.
   */
  async function refreshAsHolder(stale: string | null, waited: boolean): Promise<string | null> {
    let result: "token" | "none" | "error" = "error";
    try {
      const token = await obtain(stale, waited);
      result = token === null ? "none" : "token";
      return token;
    } finally {
      if (result === "token") announceToken();
      post({ type: "released", result });
    }
  }

  async function obtain(stale: string | null, waited: boolean): Promise<string | null> {
    if (current && current.token !== stale) return current.token;
    if (waited) {
      const outcome = await nextRelease();
      if (current && current.token !== stale) return current.token;
      if (outcome === "none") {
        // The peer found no session behind the cookie we share; neither would we.
        sessionGone(stale);
        return null;
      }
    }
    return requestRefresh(stale);
  }

  function nextRelease(): Promise<"token" | "none" | "error" | "timeout"> {
    return new Promise((resolve) => {
      const done = (result: "token" | "none" | "error" | "timeout") => {
        clearTimeout(timer);
        releaseWaiters.delete(done);
        resolve(result);
      };
      const timer = setTimeout(() => done("timeout"), PEER_WAIT_MS);
      releaseWaiters.add(done);
    });
  }

  async function requestRefresh(stale: string | null): Promise<string | null> {
    const res = await send(`${base}/api/v1/auth/refresh`, {
      method: "POST",
      credentials: "include",
      headers: { ...DELIVERY_HEADERS, "Content-Type": "application/json" },
      body: "{}",
      signal: typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(REFRESH_TIMEOUT_MS) : null,
    });
    if (res.ok) {
      const session = (await res.json()) as Session;
      adopt(session.access_token, session.expires_in * 1000);
      return session.access_token;
    }
    if (res.status === 401) {
      // A newer token reached us meanwhile (a peer refreshed, or signed in): we lost a race, not the session.
      if (current && current.token !== stale) return current.token;
      sessionGone(stale);
      return null;
    }
    throw new GatehouseError(res.status, await problemOf(res));
  }

  /** Gatehouse has no session behind the cookie: sign out, and tell the tabs holding `stale`'s session. */
  function sessionGone(stale: string | null): void {
    signOut("session_ended");
    // Only that session: a tab that has since signed in afresh keeps its new one.
    const sid = stale === null ? undefined : claimsOf(stale).sid;
    if (sid !== undefined) post({ type: "signed-out", sid });
  }

  async function getAccessToken(): Promise<string | null> {
    return usable() ?? refresh(current?.token ?? null);
  }

  /** Sends `request` with `token` as its bearer credential. */
  function sendWith(request: Request, token: string | null): Promise<Response> {
    const copy = request.clone();
    const headers = new Headers(copy.headers);
    if (token !== null) headers.set("Authorization", `Bearer ${token}`);
    return send(new Request(copy, { headers }));
  }

  async function authorizedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const token = await getAccessToken();
    const first = await sendWith(request, token);
    if (first.status !== 401 || token === null || (await problemOf(first.clone()))?.code !== "token_expired") return first;
    // Gatehouse says it expired although our clock did not: refresh once, unless a peer just did.
    const fresh = usable();
    const renewed = fresh !== null && fresh !== token ? fresh : await refresh(token);
    if (renewed === null || renewed === token) return first;
    return sendWith(request, renewed);
  }

  async function signIn(path: string, body: unknown): Promise<Session | Message> {
    const res = await send(`${base}${path}`, {
      method: "POST",
      credentials: "include",
      headers: { ...DELIVERY_HEADERS, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new GatehouseError(res.status, await problemOf(res));
    const data = (await res.json()) as Session | Message;
    if ("access_token" in data) {
      adopt(data.access_token, data.expires_in * 1000);
      announceToken();
    }
    return data;
  }

  async function logout(options: { everywhere?: boolean } = {}): Promise<void> {
    if ((await getAccessToken()) === null) return;
    const ending = current;
    const res = await authorizedFetch(`${base}/api/v1/auth/logout${options.everywhere ? "?scope=all" : ""}`, {
      method: "POST",
      credentials: "include",
      headers: DELIVERY_HEADERS,
    });
    // 401: the session was already over; either way this browser is signed out now.
    if (res.status !== 204 && res.status !== 401) throw new GatehouseError(res.status, await problemOf(res));
    const claims = ending ? claimsOf(ending.token) : {};
    signOut("logout");
    post(options.everywhere ? { type: "signed-out", sub: claims.sub } : { type: "signed-out", sid: claims.sid });
  }

  return {
    register: (body) => signIn("/api/v1/auth/register", body),
    login: async (body) => (await signIn("/api/v1/auth/login", body)) as Session,
    logout,
    getAccessToken,
    fetch: authorizedFetch,
    onSignOut(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      channel?.close();
      listeners.clear();
    },
  };
}

function isEnvelope(data: unknown): data is Envelope {
  return typeof data === "object" && data !== null && (data as { gatehouse?: unknown }).gatehouse === 1;
}

/** The `sid` and `sub` claims of an access token (read, not verified: only to tell sessions apart). */
function claimsOf(token: string): { sid?: string; sub?: string } {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(
      payload
        .replace(/-/g, "+")
        .replace(/_/g, "/")
        .padEnd(Math.ceil(payload.length / 4) * 4, "="),
    );
    const claims = JSON.parse(json) as { sid?: unknown; sub?: unknown };
    return {
      sid: typeof claims.sid === "string" ? claims.sid : undefined,
      sub: typeof claims.sub === "string" ? claims.sub : undefined,
    };
  } catch {
    return {};
  }
}

async function problemOf(res: Response): Promise<Problem | undefined> {
  try {
    const body = (await res.json()) as Partial<Problem>;
    return typeof body.code === "string" ? (body as Problem) : undefined;
  } catch {
    return undefined;
  }
}
