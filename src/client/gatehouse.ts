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
 *
 * Revocation: a session can end elsewhere (a logout on another device, a logout everywhere, an
 * administrator deactivating the account) while this page still holds an access token. When an API
 * refuses that token (`refusesToken` below says which 401s count), `fetch` refreshes once; if
 * Gatehouse refuses the refresh too, the session is over and every tab of it signs out.
 */

import type { EmailCodeBody, LoginBody, Message, MfaBody, MfaRequired, Passkey, Problem, RegisterBody, Session } from "./types";

export type { EmailCodeBody, LoginBody, Message, MfaBody, MfaRequired, Passkey, Problem, RegisterBody, Session, User } from "./types";

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
  /**
   * `logout`: this tab logged out; `other_tab`: another tab did, or found the session gone;
   * `session_ended`: Gatehouse refused the session's refresh (it was revoked by a logout elsewhere or
   * everywhere, the account was deactivated, or it expired), also when this tab's own `logout` finds it so.
   */
  reason: "logout" | "other_tab" | "session_ended";
}

export interface Gatehouse {
  /** Creates the account; signed in at once (201), or `{message}` when the address must be verified first (202). */
  register(body: RegisterBody): Promise<Session | Message>;
  /** Signs in with a password; rejects with a GatehouseError (code `mfa_required` when a second step is needed: see signIn). */
  login(body: LoginBody): Promise<Session>;
  /**
   * Signs in with a password: the session, or `{mfaRequired: true, enrolment, mfaToken, methods}`
   * when the account has a second factor (then ask for a code and call completeMfa) or, with
   * `enrolment: true`, must enrol one first. Other refusals reject.
   */
  signIn(body: LoginBody): Promise<Session | MfaRequired>;
  /** The sign-in's second step: the `mfaToken` signIn gave, and a TOTP or recovery code. */
  completeMfa(body: MfaBody): Promise<Session>;
  /**
   * Mails a sign-in code (and a link) to `email` if it can sign in that way; resolves the same
   * whether or not the address has an account (202). Rejects with a GatehouseError (`rate_limited`,
   * `challenge_required`: pass the widget's answer as `turnstileToken` and call again).
   */
  requestEmailCode(email: string, options?: { turnstileToken?: string }): Promise<void>;
  /**
   * Signs in with the mailed code: the session, or `{mfaRequired, enrolment, mfaToken, methods}`
   * exactly as signIn answers for an account with a second factor. A wrong, spent or expired code
   * rejects with a GatehouseError `invalid_code`.
   */
  verifyEmailCode(body: EmailCodeBody): Promise<Session | MfaRequired>;
  /**
   * Signs in with a passkey (cookie mode, like signIn): asks Gatehouse for request options, lets the
   * browser pick a discoverable credential, and sends the assertion. `mediation: "conditional"`
   * offers the passkeys in the autofill of a field with `autocomplete="username webauthn"` (check
   * `PublicKeyCredential.isConditionalMediationAvailable()` first); `signal` abandons the wait.
   * Rejects with a GatehouseError (`invalid_credentials`, `rate_limited`, …) or the browser's
   * DOMException (`NotAllowedError` when the person cancels).
   */
  signInWithPasskey(options?: { mediation?: "conditional"; signal?: AbortSignal }): Promise<Session>;
  /**
   * Adds a passkey to the signed-in account (the session must be fresh: else a GatehouseError
   * `reauthentication_required`). `name` defaults to one Gatehouse chooses.
   */
  addPasskey(name?: string): Promise<Passkey>;
  /** Ends this session (`everywhere`: every session of the user) and signs every tab out. */
  logout(options?: { everywhere?: boolean }): Promise<void>;
  /** The current access token, refreshed first when missing or (nearly) expired; `null` when signed out. */
  getAccessToken(): Promise<string | null>;
  /**
   * `fetch` with `Authorization: Bearer <access token>`, to Gatehouse or to any API that accepts its
   * tokens. A 401 that refuses the token itself (problem `code` `token_expired`, `token_revoked` or
   * `invalid_token`, or a `WWW-Authenticate: Bearer error="invalid_token"` challenge) gets one
   * refresh and one retry with the new token; when Gatehouse refuses that refresh (401), the session
   * is over: every tab signs out (`session_ended` here) and the first 401 is returned. Any other 401
   * is returned untouched: no refresh, no sign-out. A refresh that fails otherwise (network, 5xx)
   * rejects with its error and signs nobody out.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Called once each time this tab goes from signed in to signed out; returns the unsubscribe function. */
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

  /** The error a refused response means: its status, and its problem when the body is problem+json. */
  static async fromResponse(res: Response): Promise<GatehouseError> {
    return new GatehouseError(res.status, await problemOf(res));
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

  /** Ends this tab's session; listeners hear of it once, on the way from signed in to signed out. */
  function signOut(reason: SignOutEvent["reason"]): void {
    const wasSignedIn = current !== null;
    current = null;
    if (!wasSignedIn) return;
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
    // Signed out since the caller found its token stale (a peer's refresh was refused, a logout): no session to refresh.
    if (stale !== null && current === null) return null;
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
    if (token === null || !(await refusesToken(first))) return first;
    // The token was refused: expired by the server's clock, or its session revoked, or its user
    // deactivated. One refresh tells these apart (unless a peer has just brought a newer token): a new
    // token is tried once; Gatehouse refusing the refresh ends the session in every tab (sessionGone).
    // Whatever the retry answers is returned as it is: at most one refresh per request, no loop.
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

  /** A first factor's sign-in: the session, or the second step it asks for (mfa_required / mfa_enrollment_required). */
  async function signInOrSecondStep(path: string, body: unknown): Promise<Session | MfaRequired> {
    try {
      return (await signIn(path, body)) as Session;
    } catch (error) {
      const problem = error instanceof GatehouseError ? error.problem : undefined;
      const enrolment = problem?.code === "mfa_enrollment_required";
      if ((problem?.code !== "mfa_required" && !enrolment) || !problem?.mfa_token) throw error;
      return { mfaRequired: true, enrolment, mfaToken: problem.mfa_token, methods: problem.methods ?? [] };
    }
  }

  async function requestEmailCode(email: string, options: { turnstileToken?: string } = {}): Promise<void> {
    const body = options.turnstileToken === undefined ? { email } : { email, turnstile_token: options.turnstileToken };
    // Cookie mode like a sign-in: the browser's device cookie goes along (a known device's request is trusted more).
    const res = await send(`${base}/api/v1/auth/email-code`, {
      method: "POST",
      credentials: "include",
      headers: { ...DELIVERY_HEADERS, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new GatehouseError(res.status, await problemOf(res));
  }

  async function passkeySignIn(options: { mediation?: "conditional"; signal?: AbortSignal } = {}): Promise<Session> {
    const res = await send(`${base}/api/v1/auth/passkey/options`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    if (!res.ok) throw new GatehouseError(res.status, await problemOf(res));
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON((await res.json()) as PublicKeyCredentialRequestOptionsJSON);
    const request: CredentialRequestOptions = { publicKey };
    if (options.mediation) request.mediation = options.mediation;
    if (options.signal) request.signal = options.signal;
    const credential = (await navigator.credentials.get(request)) as PublicKeyCredential | null;
    if (!credential) throw new DOMException("No passkey was chosen.", "NotAllowedError");
    return (await signIn("/api/v1/auth/passkey", { credential: credential.toJSON() as unknown })) as Session;
  }

  async function addPasskey(name?: string): Promise<Passkey> {
    const json = { "Content-Type": "application/json" };
    const res = await authorizedFetch(`${base}/api/v1/users/me/passkeys/options`, { method: "POST", headers: json, body: "{}" });
    if (!res.ok) throw new GatehouseError(res.status, await problemOf(res));
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON((await res.json()) as PublicKeyCredentialCreationOptionsJSON);
    const credential = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential | null;
    if (!credential) throw new DOMException("No passkey was made.", "NotAllowedError");
    const body = name === undefined ? { credential: credential.toJSON() as unknown } : { credential: credential.toJSON() as unknown, name };
    const added = await authorizedFetch(`${base}/api/v1/users/me/passkeys`, { method: "POST", headers: json, body: JSON.stringify(body) });
    if (!added.ok) throw new GatehouseError(added.status, await problemOf(added));
    return (await added.json()) as Passkey;
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
    // The session that ended: the one fetch refreshed into, if it had to (its peers hold that one's token).
    const ended = current ?? ending;
    const claims = ended ? claimsOf(ended.token) : {};
    signOut("logout");
    post(options.everywhere ? { type: "signed-out", sub: claims.sub } : { type: "signed-out", sid: claims.sid });
  }

  return {
    register: (body) => signIn("/api/v1/auth/register", body),
    login: async (body) => (await signIn("/api/v1/auth/login", body)) as Session,
    signIn: (body) => signInOrSecondStep("/api/v1/auth/login", body),
    completeMfa: async ({ mfaToken, method, code }) => (await signIn("/api/v1/auth/mfa", { mfa_token: mfaToken, method, code })) as Session,
    requestEmailCode,
    verifyEmailCode: (body) => signInOrSecondStep("/api/v1/auth/email-code/verify", body),
    signInWithPasskey: passkeySignIn,
    addPasskey,
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

/** Gatehouse's problem codes for a refused bearer token (RFC 6750's `invalid_token` error among them). */
const TOKEN_REFUSED = new Set(["token_expired", "token_revoked", "invalid_token"]);
/** A `Bearer` challenge with `error="invalid_token"` (RFC 6750 §3.1), as Gatehouse and e.g. `hono/jwk` send. */
const INVALID_TOKEN_CHALLENGE = /(?:^|,)\s*Bearer\b[\s\S]*?\berror\s*=\s*"?invalid_token\b/i;

/**
 * Whether a 401 refuses the bearer token itself, the one kind of 401 a refresh may cure. `fetch` may
 * reach the site's own API as well as Gatehouse, and a 401 there can mean something else entirely (a
 * wrong PIN, another credential missing), so a 401 counts only when it says so: Gatehouse's problem
 * `code` `token_expired`, `token_revoked` or `invalid_token` (Gatehouse answers one of them whenever it
 * refuses a bearer token; a site API may pass them on), or a `WWW-Authenticate: Bearer … error="invalid_token"` challenge, which
 * an API verifying tokens with Gatehouse's JWKS sends (cross-origin, only if it lists the header in
 * `Access-Control-Expose-Headers`). Other 401s, bare ones included, are the API's business.
 *
 * A false match costs one refresh, never a sign-out: only Gatehouse refusing the refresh ends the session.
 */
async function refusesToken(res: Response): Promise<boolean> {
  if (res.status !== 401) return false;
  if (INVALID_TOKEN_CHALLENGE.test(res.headers.get("WWW-Authenticate") ?? "")) return true;
  // Only a JSON body can carry a problem code; others are not read (it may be large, or a stream).
  if (!/json/i.test(res.headers.get("Content-Type") ?? "")) return false;
  const code = (await problemOf(res.clone()))?.code;
  return code !== undefined && TOKEN_REFUSED.has(code);
}

async function problemOf(res: Response): Promise<Problem | undefined> {
  try {
    const body = (await res.json()) as Partial<Problem>;
    return typeof body.code === "string" ? (body as Problem) : undefined;
  } catch {
    return undefined;
  }
}
