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
/** A non-2xx answer from Gatehouse: `code` is the problem's (`invalid_credentials`, `rate_limited`, …). */
export class GatehouseError extends Error {
    status;
    code;
    problem;
    constructor(status, problem) {
        super(problem ? `${problem.title}: ${problem.detail}` : `Gatehouse answered ${status}`);
        this.name = "GatehouseError";
        this.status = status;
        this.code = problem?.code ?? "http_error";
        this.problem = problem;
    }
    /** The error a refused response means: its status, and its problem when the body is problem+json. */
    static async fromResponse(res) {
        return new GatehouseError(res.status, await problemOf(res));
    }
}
const CHANNEL_NAME = "gatehouse";
const DELIVERY_HEADERS = { "Gatehouse-Token-Delivery": "cookie" };
/** How long a tab waits for a peer's refresh outcome before refreshing itself (the peer may have closed). */
const PEER_WAIT_MS = 3_000;
/** A refresh still unanswered after this long is abandoned, so a hung request never holds every tab's lock. */
const REFRESH_TIMEOUT_MS = 15_000;
/** Creates a client for one Gatehouse deployment. Create it once per page. */
export function createGatehouse(options) {
    const base = new URL(options.baseUrl).origin;
    const now = options.now ?? (() => Date.now());
    const skewMs = (options.skewSeconds ?? 30) * 1000;
    const send = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const lockName = `gatehouse:refresh:${base}`;
    let current = null;
    let inflight = null;
    /** Without Web Locks: until when a peer's announced refresh counts as running. */
    let peerRefreshingUntil = 0;
    const listeners = new Set();
    const releaseWaiters = new Set();
    const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL_NAME) : null;
    // Locks elect one refreshing tab; without a channel the others could not hear its result.
    const locks = channel && typeof navigator !== "undefined" && navigator.locks ? navigator.locks : null;
    channel?.addEventListener("message", (event) => receive(event.data));
    function post(message) {
        const envelope = { ...message, gatehouse: 1, base };
        channel?.postMessage(envelope);
    }
    function receive(data) {
        if (!isEnvelope(data) || data.base !== base)
            return;
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
                for (const waiter of [...releaseWaiters])
                    waiter(data.result);
                break;
        }
    }
    /** Keeps a token if it outlives the one held (a late message never replaces a newer token). */
    function adopt(token, expiresInMs) {
        const at = now();
        const expiresAt = at + expiresInMs;
        if (current && current.token !== token && current.expiresAt > expiresAt)
            return;
        const claims = claimsOf(token);
        current = { token, expiresAt, usableUntil: expiresAt - Math.min(skewMs, expiresInMs / 2), sid: claims.sid, sub: claims.sub };
    }
    function announceToken() {
        if (current)
            post({ type: "token", access_token: current.token, expires_in_ms: Math.max(0, current.expiresAt - now()) });
    }
    /** Ends this tab's session; listeners hear of it once, on the way from signed in to signed out. */
    function signOut(reason) {
        const wasSignedIn = current !== null;
        current = null;
        if (!wasSignedIn)
            return;
        for (const listener of [...listeners]) {
            try {
                listener({ reason });
            }
            catch (error) {
                // One broken listener must not keep the others from hearing about the sign-out.
                setTimeout(() => {
                    throw error;
                });
            }
        }
    }
    function usable() {
        return current && now() < current.usableUntil ? current.token : null;
    }
    /** One refresh per tab at a time; `stale` is the token the caller found unusable (or null). */
    function refresh(stale) {
        inflight ??= coordinatedRefresh(stale).finally(() => {
            inflight = null;
        });
        return inflight;
    }
    async function coordinatedRefresh(stale) {
        if (locks) {
            const immediate = await locks.request(lockName, { ifAvailable: true }, async (lock) => lock ? { token: await refreshAsHolder(stale, false) } : null);
            if (immediate)
                return immediate.token;
            // A peer holds the lock: it is refreshing now. Queue behind it, then most likely use its token.
            return locks.request(lockName, () => refreshAsHolder(stale, true));
        }
        if (channel && Date.now() < peerRefreshingUntil)
            return refreshAsHolder(stale, true);
        post({ type: "refreshing" });
        return refreshAsHolder(stale, false);
    }
    /**
     * Runs while this tab holds the refresh lock (or, without locks, its turn). Ends with exactly one
     * `released` message, posted after any token or sign-out message, so peers queued behind learn
     * the outcome in order.
     */
    async function refreshAsHolder(stale, waited) {
        let result = "error";
        try {
            const token = await obtain(stale, waited);
            result = token === null ? "none" : "token";
            return token;
        }
        finally {
            if (result === "token")
                announceToken();
            post({ type: "released", result });
        }
    }
    async function obtain(stale, waited) {
        if (current && current.token !== stale)
            return current.token;
        // Signed out since the caller found its token stale (a peer's refresh was refused, a logout): no session to refresh.
        if (stale !== null && current === null)
            return null;
        if (waited) {
            const outcome = await nextRelease();
            if (current && current.token !== stale)
                return current.token;
            if (outcome === "none") {
                // The peer found no session behind the cookie we share; neither would we.
                sessionGone(stale);
                return null;
            }
        }
        return requestRefresh(stale);
    }
    function nextRelease() {
        return new Promise((resolve) => {
            const done = (result) => {
                clearTimeout(timer);
                releaseWaiters.delete(done);
                resolve(result);
            };
            const timer = setTimeout(() => done("timeout"), PEER_WAIT_MS);
            releaseWaiters.add(done);
        });
    }
    async function requestRefresh(stale) {
        const res = await send(`${base}/api/v1/auth/refresh`, {
            method: "POST",
            credentials: "include",
            headers: { ...DELIVERY_HEADERS, "Content-Type": "application/json" },
            body: "{}",
            signal: typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(REFRESH_TIMEOUT_MS) : null,
        });
        if (res.ok) {
            const session = (await res.json());
            adopt(session.access_token, session.expires_in * 1000);
            return session.access_token;
        }
        if (res.status === 401) {
            // A newer token reached us meanwhile (a peer refreshed, or signed in): we lost a race, not the session.
            if (current && current.token !== stale)
                return current.token;
            sessionGone(stale);
            return null;
        }
        throw new GatehouseError(res.status, await problemOf(res));
    }
    /** Gatehouse has no session behind the cookie: sign out, and tell the tabs holding `stale`'s session. */
    function sessionGone(stale) {
        signOut("session_ended");
        // Only that session: a tab that has since signed in afresh keeps its new one.
        const sid = stale === null ? undefined : claimsOf(stale).sid;
        if (sid !== undefined)
            post({ type: "signed-out", sid });
    }
    async function getAccessToken() {
        return usable() ?? refresh(current?.token ?? null);
    }
    /** Sends `request` with `token` as its bearer credential. */
    function sendWith(request, token) {
        const copy = request.clone();
        const headers = new Headers(copy.headers);
        if (token !== null)
            headers.set("Authorization", `Bearer ${token}`);
        return send(new Request(copy, { headers }));
    }
    async function authorizedFetch(input, init) {
        const request = new Request(input, init);
        const token = await getAccessToken();
        const first = await sendWith(request, token);
        if (token === null || !(await refusesToken(first)))
            return first;
        // The token was refused: expired by the server's clock, or its session revoked, or its user
        // deactivated. One refresh tells these apart (unless a peer has just brought a newer token): a new
        // token is tried once; Gatehouse refusing the refresh ends the session in every tab (sessionGone).
        // Whatever the retry answers is returned as it is: at most one refresh per request, no loop.
        const fresh = usable();
        const renewed = fresh !== null && fresh !== token ? fresh : await refresh(token);
        if (renewed === null || renewed === token)
            return first;
        return sendWith(request, renewed);
    }
    async function signIn(path, body) {
        const res = await send(`${base}${path}`, {
            method: "POST",
            credentials: "include",
            headers: { ...DELIVERY_HEADERS, "Content-Type": "application/json" },
            body: JSON.stringify(body),
        });
        if (!res.ok)
            throw new GatehouseError(res.status, await problemOf(res));
        const data = (await res.json());
        if ("access_token" in data) {
            adopt(data.access_token, data.expires_in * 1000);
            announceToken();
        }
        return data;
    }
    /** A first factor's sign-in: the session, or the second step it asks for (mfa_required / mfa_enrollment_required). */
    async function signInOrSecondStep(path, body) {
        try {
            return (await signIn(path, body));
        }
        catch (error) {
            const problem = error instanceof GatehouseError ? error.problem : undefined;
            const enrolment = problem?.code === "mfa_enrollment_required";
            if ((problem?.code !== "mfa_required" && !enrolment) || !problem?.mfa_token)
                throw error;
            return { mfaRequired: true, enrolment, mfaToken: problem.mfa_token, methods: problem.methods ?? [] };
        }
    }
    async function requestEmailCode(email, options = {}) {
        const body = options.turnstileToken === undefined ? { email } : { email, turnstile_token: options.turnstileToken };
        // Cookie mode like a sign-in: the browser's device cookie goes along (a known device's request is trusted more).
        const res = await send(`${base}/api/v1/auth/email-code`, {
            method: "POST",
            credentials: "include",
            headers: { ...DELIVERY_HEADERS, "Content-Type": "application/json" },
            body: JSON.stringify(body),
        });
        if (!res.ok)
            throw new GatehouseError(res.status, await problemOf(res));
    }
    async function passkeySignIn(options = {}) {
        const res = await send(`${base}/api/v1/auth/passkey/options`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: "{}",
        });
        if (!res.ok)
            throw new GatehouseError(res.status, await problemOf(res));
        const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON((await res.json()));
        const request = { publicKey };
        if (options.mediation)
            request.mediation = options.mediation;
        if (options.signal)
            request.signal = options.signal;
        const credential = (await navigator.credentials.get(request));
        if (!credential)
            throw new DOMException("No passkey was chosen.", "NotAllowedError");
        return (await signIn("/api/v1/auth/passkey", { credential: credential.toJSON() }));
    }
    async function addPasskey(name) {
        const json = { "Content-Type": "application/json" };
        const res = await authorizedFetch(`${base}/api/v1/users/me/passkeys/options`, { method: "POST", headers: json, body: "{}" });
        if (!res.ok)
            throw new GatehouseError(res.status, await problemOf(res));
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON((await res.json()));
        const credential = (await navigator.credentials.create({ publicKey }));
        if (!credential)
            throw new DOMException("No passkey was made.", "NotAllowedError");
        const body = name === undefined ? { credential: credential.toJSON() } : { credential: credential.toJSON(), name };
        const added = await authorizedFetch(`${base}/api/v1/users/me/passkeys`, { method: "POST", headers: json, body: JSON.stringify(body) });
        if (!added.ok)
            throw new GatehouseError(added.status, await problemOf(added));
        return (await added.json());
    }
    async function logout(options = {}) {
        if ((await getAccessToken()) === null)
            return;
        const ending = current;
        const res = await authorizedFetch(`${base}/api/v1/auth/logout${options.everywhere ? "?scope=all" : ""}`, {
            method: "POST",
            credentials: "include",
            headers: DELIVERY_HEADERS,
        });
        // 401: the session was already over; either way this browser is signed out now.
        if (res.status !== 204 && res.status !== 401)
            throw new GatehouseError(res.status, await problemOf(res));
        // The session that ended: the one fetch refreshed into, if it had to (its peers hold that one's token).
        const ended = current ?? ending;
        const claims = ended ? claimsOf(ended.token) : {};
        signOut("logout");
        post(options.everywhere ? { type: "signed-out", sub: claims.sub } : { type: "signed-out", sid: claims.sid });
    }
    return {
        register: (body) => signIn("/api/v1/auth/register", body),
        login: async (body) => (await signIn("/api/v1/auth/login", body)),
        signIn: (body) => signInOrSecondStep("/api/v1/auth/login", body),
        completeMfa: async ({ mfaToken, method, code }) => (await signIn("/api/v1/auth/mfa", { mfa_token: mfaToken, method, code })),
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
function isEnvelope(data) {
    return typeof data === "object" && data !== null && data.gatehouse === 1;
}
/** The `sid` and `sub` claims of an access token (read, not verified: only to tell sessions apart). */
function claimsOf(token) {
    try {
        const payload = token.split(".")[1] ?? "";
        const json = atob(payload
            .replace(/-/g, "+")
            .replace(/_/g, "/")
            .padEnd(Math.ceil(payload.length / 4) * 4, "="));
        const claims = JSON.parse(json);
        return {
            sid: typeof claims.sid === "string" ? claims.sid : undefined,
            sub: typeof claims.sub === "string" ? claims.sub : undefined,
        };
    }
    catch {
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
async function refusesToken(res) {
    if (res.status !== 401)
        return false;
    if (INVALID_TOKEN_CHALLENGE.test(res.headers.get("WWW-Authenticate") ?? ""))
        return true;
    // Only a JSON body can carry a problem code; others are not read (it may be large, or a stream).
    if (!/json/i.test(res.headers.get("Content-Type") ?? ""))
        return false;
    const code = (await problemOf(res.clone()))?.code;
    return code !== undefined && TOKEN_REFUSED.has(code);
}
async function problemOf(res) {
    try {
        const body = (await res.json());
        return typeof body.code === "string" ? body : undefined;
    }
    catch {
        return undefined;
    }
}
