/**
 * A stand-in for Gatehouse's cookie mode, small enough to reason about: one browser's cookie jar
 * (shared by every tab), sessions with rotating refresh tokens and the grace window, and access
 * tokens that are unsigned JWT-shaped strings carrying `sub`, `sid` and `exp`; sessions can end
 * elsewhere (another device's logout everywhere, an administrator's deactivation). The real worker
 * is exercised by the Chromium journeys in test/e2e.
 */

interface FakeSession {
  sub: string;
  live: string;
  /** Retired refresh token → when it was retired (ms). */
  retired: Map<string, number>;
  revoked: boolean;
}

interface IssuedToken {
  sid: string;
  sub: string;
  expiresAt: number;
  revoked: boolean;
}

const GRACE_MS = 10_000;

export class FakeGatehouse {
  readonly base: string;
  /** The browser's `__Host-gh_rt` cookie. */
  cookie: string | null = null;
  /** Gatehouse's clock (ms). */
  serverNow = Date.now();
  ttlSeconds = 60;
  /** Delay of every refresh answer, so concurrent callers really overlap. */
  refreshDelayMs = 20;
  /** Status to answer refreshes with instead of doing them (e.g. 503). */
  failRefreshWith: number | null = null;
  refreshCount = 0;
  readonly requests: Request[] = [];
  private readonly sessions = new Map<string, FakeSession>();
  private readonly tokens = new Map<string, IssuedToken>();
  /** Users an administrator deactivated. */
  private readonly deactivated = new Set<string>();
  private counter = 0;
  /** Passkeys added through `POST /users/me/passkeys`: whose, the credential id, the name. */
  readonly passkeys: { sub: string; id: string; name: string }[] = [];

  constructor(base: string) {
    this.base = base;
  }

  /** The `fetch` a client under test uses. */
  readonly fetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    this.requests.push(request.clone());
    const url = new URL(request.url);
    if (url.origin !== this.base) return new Response("wrong origin", { status: 599 });
    const cookieMode = request.headers.get("gatehouse-token-delivery") === "cookie";
    switch (`${request.method} ${url.pathname}`) {
      case "POST /api/v1/auth/register": {
        const body = (await request.json()) as { email: string };
        if (body.email.startsWith("verify")) return Response.json({ message: "Check your inbox." }, { status: 202 });
        return this.signIn(cookieMode, 201);
      }
      case "POST /api/v1/auth/login": {
        // An account with a second factor (the real thing: test/mfa.test.ts): the first step answers 403.
        const body = (await request.json()) as { email?: string };
        // An account MFA_REQUIRED stops until it enrols (the real thing: test/mfa-policy.test.ts).
        if (body.email?.startsWith("enrol")) {
          return Response.json(
            { ...problemBody(403, "mfa_enrollment_required"), mfa_token: FAKE_MFA_TOKEN, methods: ["totp", "passkey"] },
            { status: 403, headers: { "content-type": "application/problem+json" } },
          );
        }
        if (body.email?.startsWith("mfa")) {
          return Response.json(
            { ...problemBody(403, "mfa_required"), mfa_token: FAKE_MFA_TOKEN, methods: ["totp", "recovery_code"] },
            { status: 403, headers: { "content-type": "application/problem+json" } },
          );
        }
        return this.signIn(cookieMode, 200);
      }
      case "POST /api/v1/auth/mfa": {
        const body = (await request.json()) as { mfa_token?: string; method?: string; code?: string };
        if (body.mfa_token !== FAKE_MFA_TOKEN) return problem(401, "invalid_token");
        if (body.method !== "totp" || body.code !== FAKE_TOTP_CODE) return problem(401, "invalid_code");
        return this.signIn(cookieMode, 200);
      }
      case "POST /api/v1/auth/email-code":
        // The same answer for every address (the real thing: test/email-code.test.ts).
        return Response.json({ message: "If this address can sign in with a code, we mailed it one." }, { status: 202 });
      case "POST /api/v1/auth/email-code/verify": {
        const body = (await request.json()) as { email?: string; code?: string };
        if (body.code !== FAKE_EMAIL_CODE) return problem(401, "invalid_code");
        if (body.email?.startsWith("mfa")) {
          return Response.json(
            { ...problemBody(403, "mfa_required"), mfa_token: FAKE_MFA_TOKEN, methods: ["totp", "recovery_code"] },
            { status: 403, headers: { "content-type": "application/problem+json" } },
          );
        }
        return this.signIn(cookieMode, 200);
      }
      case "POST /api/v1/auth/passkey/options":
        return Response.json({ challenge: FAKE_CHALLENGE, rpId: "example.com", userVerification: "required", allowCredentials: [] });
      case "POST /api/v1/auth/passkey": {
        // The fake's one known passkey is FAKE_PASSKEY_ID; an assertion must answer the fake's challenge.
        const body = (await request.json()) as { credential?: { id?: string; response?: { clientDataJSON?: string } } };
        if (body.credential?.id !== FAKE_PASSKEY_ID || body.credential.response?.clientDataJSON !== FAKE_CHALLENGE) {
          return problem(401, "invalid_credentials");
        }
        return this.signIn(cookieMode, 200);
      }
      case "POST /api/v1/users/me/passkeys/options": {
        const token = this.check(request);
        if (token instanceof Response) return token;
        return Response.json({
          challenge: FAKE_CHALLENGE,
          rp: { id: "example.com", name: "Example" },
          user: { id: "aGFuZGxl", name: token.sub, displayName: token.sub },
        });
      }
      case "POST /api/v1/users/me/passkeys": {
        const token = this.check(request);
        if (token instanceof Response) return token;
        const body = (await request.json()) as { credential?: { id?: string }; name?: string };
        this.passkeys.push({ sub: token.sub, id: body.credential?.id ?? "", name: body.name ?? "Passkey" });
        return Response.json(
          {
            id: `pk${++this.counter}`,
            name: body.name ?? "Passkey",
            created_at: new Date(this.serverNow).toISOString(),
            last_used_at: null,
            backed_up: true,
            backup_eligible: true,
            transports: ["internal"],
            aaguid: "00000000-0000-0000-0000-000000000000",
          },
          { status: 201 },
        );
      }
      case "POST /api/v1/auth/refresh":
        return this.refresh(cookieMode);
      case "POST /api/v1/auth/logout": {
        const token = this.check(request);
        if (token instanceof Response) return token;
        for (const [sid, session] of this.sessions) {
          if (sid === token.sid || (url.searchParams.get("scope") === "all" && session.sub === token.sub)) this.revoke(sid);
        }
        if (cookieMode) this.cookie = null;
        return new Response(null, { status: 204 });
      }
      case "GET /api/v1/users/me":
      case "POST /api/v1/echo": {
        const token = this.check(request);
        if (token instanceof Response) return token;
        return Response.json({ sub: token.sub, body: await request.text() });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  };

  /** Makes every access token issued so far count as expired to Gatehouse (not to the client's clock). */
  expireAccessTokens(): void {
    for (const token of this.tokens.values()) token.expiresAt = this.serverNow - 1;
  }

  /** Revokes the access tokens issued so far but not their sessions: a refresh still works. */
  revokeAccessTokens(): void {
    for (const token of this.tokens.values()) token.revoked = true;
  }

  /** A logout everywhere from another device: every session and its access tokens end (the cookie stays). */
  endSessionsElsewhere(): void {
    for (const sid of this.sessions.keys()) this.revoke(sid);
  }

  /** An administrator deactivates every user: their tokens get 401 `invalid_token`, their refreshes too. */
  deactivateUsers(): void {
    for (const session of this.sessions.values()) this.deactivated.add(session.sub);
  }

  /**
   * What an API verifying tokens offline with the JWKS (signature and expiry, like `hono/jwk`) makes
   * of a request's bearer token: it cannot see a revocation.
   */
  verifyOffline(request: Request): "valid" | "expired" | "invalid" {
    const token = this.tokens.get(jtiOf(request) ?? "");
    if (!token) return "invalid";
    return token.expiresAt <= this.serverNow ? "expired" : "valid";
  }

  private signIn(cookieMode: boolean, status: number): Response {
    const sid = `s${++this.counter}`;
    const rt = `rt${++this.counter}`;
    this.sessions.set(sid, { sub: `u${this.counter}`, live: rt, retired: new Map(), revoked: false });
    if (!cookieMode) return new Response("bearer mode is not faked", { status: 400 });
    this.cookie = rt;
    return Response.json(this.tokenResponse(sid), { status });
  }

  private async refresh(cookieMode: boolean): Promise<Response> {
    this.refreshCount += 1;
    const presented = this.cookie;
    await new Promise((resolve) => setTimeout(resolve, this.refreshDelayMs));
    if (this.failRefreshWith !== null) return problem(this.failRefreshWith, "service_unavailable");
    if (!cookieMode) return problem(422, "validation_failed");
    for (const [sid, session] of this.sessions) {
      if (session.revoked || presented === null) continue;
      if ((session.live === presented || session.retired.has(presented)) && this.deactivated.has(session.sub)) {
        // Gatehouse ends a deactivated user's session at its next refresh.
        this.revoke(sid);
        break;
      }
      if (session.live === presented) {
        const next = `rt${++this.counter}`;
        session.retired.set(presented, this.serverNow);
        session.live = next;
        this.cookie = next;
        return Response.json(this.tokenResponse(sid));
      }
      const retiredAt = session.retired.get(presented);
      if (retiredAt !== undefined) {
        if (this.serverNow - retiredAt <= GRACE_MS) {
          this.cookie = session.live;
          return Response.json(this.tokenResponse(sid));
        }
        this.revoke(sid);
        this.cookie = null;
        return problem(401, "refresh_token_reused");
      }
    }
    this.cookie = null;
    return problem(401, "invalid_token");
  }

  private revoke(sid: string): void {
    this.sessions.get(sid)!.revoked = true;
    for (const token of this.tokens.values()) if (token.sid === sid) token.revoked = true;
  }

  private tokenResponse(sid: string) {
    const session = this.sessions.get(sid)!;
    const jti = `t${++this.counter}`;
    const exp = this.serverNow + this.ttlSeconds * 1000;
    this.tokens.set(jti, { sid, sub: session.sub, expiresAt: exp, revoked: false });
    const payload = btoa(JSON.stringify({ sub: session.sub, sid, jti, exp: Math.floor(exp / 1000) })).replace(/=+$/, "");
    return {
      access_token: `eyJhbGciOiJub25lIn0.${payload}.${jti}`,
      token_type: "bearer",
      expires_in: this.ttlSeconds,
      refresh_expires_in: 86_400,
      user: { id: session.sub },
    };
  }

  /** The bearer token of a request, or the 401 Gatehouse would answer. */
  private check(request: Request): IssuedToken | Response {
    const jti = jtiOf(request);
    const token = jti === undefined ? undefined : this.tokens.get(jti);
    if (!token || this.deactivated.has(token.sub)) return refused("invalid_token");
    if (token.revoked) return refused("token_revoked");
    if (token.expiresAt <= this.serverNow) return refused("token_expired");
    return token;
  }
}

/** The `jti` of a request's bearer token (the fake's tokens end in it). */
function jtiOf(request: Request): string | undefined {
  return /^Bearer [^.]+\.[^.]+\.(.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
}

export const FAKE_MFA_TOKEN = "gm1.fake";
export const FAKE_TOTP_CODE = "123456";
/** The one code the fake's mailbox ever holds. */
export const FAKE_EMAIL_CODE = "12345678";
/** The fake's WebAuthn challenge; its stand-in assertions carry it as their `clientDataJSON`. */
export const FAKE_CHALLENGE = "ZmFrZS1jaGFsbGVuZ2U";
/** The credential id of the one passkey the fake signs in. */
export const FAKE_PASSKEY_ID = "cGFzc2tleQ";

function problemBody(status: number, code: string) {
  return { type: `urn:gatehouse:problem:${code}`, title: code, status, detail: code, code, request_id: "r" };
}

export function problem(status: number, code: string, headers: Record<string, string> = {}): Response {
  return Response.json(problemBody(status, code), { status, headers: { "content-type": "application/problem+json", ...headers } });
}

/** A refused bearer token, as Gatehouse's auth middleware answers it: the code and RFC 6750's challenge. */
function refused(code: "invalid_token" | "token_revoked" | "token_expired"): Response {
  return problem(401, code, { "www-authenticate": 'Bearer error="invalid_token"' });
}
