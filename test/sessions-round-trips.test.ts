import { afterEach, describe, expect, it, vi } from "vitest";
import { base64url, randomToken, sha256 } from "../src/crypto";
import { call, env, freshIp, login, problem, register, type Registered } from "./helpers";

/**
 * Refresh and logout far from the D1 primary (issue #35: "refresh and logout ≤ 1.1× their floor",
 * the floor being one primary round trip): a refresh token names its session, so the rotation goes
 * to the primary without a read first, and a logout's one write checks the access token's session.
 * What each request costs is counted two ways: the request's log line (D1 calls on the request's
 * own path, src/storage-meter.ts) and a D1 binding that tells primary calls from replica reads.
 */

/** A D1 binding counting calls through the primary (`first-primary` sessions, or the binding itself) and through replicas. */
function countingD1(): { DB: D1Database; counts: { primary: number; replica: number } } {
  const counts = { primary: 0, replica: 0 };
  const counted = <T extends D1Database | D1DatabaseSession>(target: T, kind: keyof typeof counts): T => {
    const real = new WeakMap<object, D1PreparedStatement>();
    const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
      const proxy = new Proxy(statement, {
        get(stmt, prop) {
          const value = Reflect.get(stmt, prop, stmt) as unknown;
          if (typeof value !== "function") return value;
          if (prop === "bind") return (...args: unknown[]) => wrap(stmt.bind(...args));
          return (...args: unknown[]) => {
            counts[kind] += 1;
            return (value as (...a: unknown[]) => unknown).apply(stmt, args);
          };
        },
      });
      real.set(proxy, statement);
      return proxy;
    };
    return new Proxy(target, {
      get(t, prop) {
        if (prop === "prepare") return (sql: string) => wrap(t.prepare(sql));
        if (prop === "batch") {
          return (statements: D1PreparedStatement[]) => {
            counts[kind] += 1;
            return t.batch(statements.map((s) => real.get(s) ?? s));
          };
        }
        if (prop === "withSession") {
          return (constraint?: string) =>
            counted((t as D1Database).withSession(constraint), constraint === "first-primary" ? "primary" : "replica");
        }
        const value = Reflect.get(t, prop, t) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
  };
  return { DB: counted(env.DB, "primary"), counts };
}

interface RequestLine {
  route: string | null;
  status: number;
  storage: { d1: number; round_trips: number };
}

/** The request log lines written from now on. */
function requestLines(): () => RequestLine[] {
  const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
  return () =>
    spy.mock.calls
      .map(([line]) => (typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as { event: string }) : null))
      .filter((line): line is RequestLine & { event: string } => line?.event === "request");
}

afterEach(() => vi.restoreAllMocks());

function refresh(refreshToken: string, extra: { env?: { DB: D1Database } } = {}) {
  return call("/api/v1/auth/refresh", { body: { refresh_token: refreshToken }, ip: freshIp(), ...extra });
}

async function pairOf(res: Response): Promise<{ access_token: string; refresh_token: string }> {
  const body = await res.json<{ access_token: string; refresh_token: string }>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

function sidOf(accessToken: string): string {
  return (JSON.parse(atob(accessToken.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/"))) as { sid: string }).sid;
}

const NAMED = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/;

/** Gives the user's session a token of the older, bare form and a random rotation key, as sessions begun before had. */
async function makeBare(user: Registered): Promise<string> {
  const bare = randomToken(32);
  await env.DB.prepare("UPDATE sessions SET refresh_token_hash = ?, rotation_key = ? WHERE id = ?")
    .bind(await sha256(bare), randomToken(32), sidOf(user.accessToken))
    .run();
  return bare;
}

describe("refresh tokens name their session", () => {
  it("a sign-in's and a refresh's token is `<session id>.<256 random bits>`", async () => {
    const user = await register();
    expect(NAMED.exec(user.refreshToken)?.[1]).toBe(sidOf(user.accessToken));
    const signedIn = await pairOf(await login({ email: user.email, password: user.password }));
    expect(NAMED.exec(signedIn.refresh_token)?.[1]).toBe(sidOf(signedIn.access_token));
    const refreshed = await pairOf(await refresh(signedIn.refresh_token));
    expect(NAMED.exec(refreshed.refresh_token)?.[1]).toBe(sidOf(signedIn.access_token));
  });

  it("a refresh is one D1 call, to the primary, and no replica read", async () => {
    const user = await register();
    const { DB, counts } = countingD1();
    const lines = requestLines();
    const refreshed = await pairOf(await refresh(user.refreshToken, { env: { DB } }));
    expect(counts).toEqual({ primary: 1, replica: 0 });
    const [line] = lines();
    expect(line).toMatchObject({ route: "/api/v1/auth/refresh", status: 200, storage: { d1: 1 } });
    expect((await call("/api/v1/users/me", { token: refreshed.access_token })).status).toBe(200);
  });

  it("a tab presenting a token another tab just rotated gets the live pair, in one D1 call too", async () => {
    const user = await register();
    const first = await pairOf(await refresh(user.refreshToken));
    const { DB, counts } = countingD1();
    const again = await pairOf(await refresh(user.refreshToken, { env: { DB } }));
    expect(again.refresh_token).toBe(first.refresh_token);
    expect(counts).toEqual({ primary: 1, replica: 0 });
  });

  it("reuse of a retired token after the grace window still ends the session", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const first = await pairOf(await refresh(user.refreshToken));
    const second = await pairOf(await refresh(first.refresh_token));
    vi.setSystemTime(Date.now() + 11_000);
    await problem(await refresh(first.refresh_token), 401, "refresh_token_reused");
    await problem(await refresh(second.refresh_token), 401, "invalid_token");
    await problem(await call("/api/v1/users/me", { token: second.access_token }), 401, "token_revoked");
  });

  it("a session whose rotation key is not the derived one (the signing key changed) still refreshes, with its own key", async () => {
    const user = await register();
    const sid = sidOf(user.accessToken);
    await env.DB.prepare("UPDATE sessions SET rotation_key = ? WHERE id = ?").bind(randomToken(32), sid).run();
    const { DB, counts } = countingD1();
    const first = await pairOf(await refresh(user.refreshToken, { env: { DB } }));
    // The fast rotation finds no row; the same batch read the session, which is rotated with its stored key.
    expect(counts).toEqual({ primary: 2, replica: 0 });
    expect(NAMED.exec(first.refresh_token)?.[1]).toBe(sid);
    // Deterministic still: tabs converge, and the chain goes on.
    expect((await pairOf(await refresh(user.refreshToken))).refresh_token).toBe(first.refresh_token);
    const second = await pairOf(await refresh(first.refresh_token));
    expect((await call("/api/v1/users/me", { token: second.access_token })).status).toBe(200);
  });

  it("a session's token of the older bare form keeps working, and keeps its form", async () => {
    const user = await register();
    const bare = await makeBare(user);
    const first = await pairOf(await refresh(bare));
    expect(first.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sidOf(first.access_token)).toBe(sidOf(user.accessToken));
    const racing = await Promise.all([refresh(first.refresh_token), refresh(first.refresh_token)]);
    const [a, b] = await Promise.all(racing.map(pairOf));
    expect(a!.refresh_token).toBe(b!.refresh_token);
    // …and its reuse detection too.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11_000);
    await problem(await refresh(bare), 401, "refresh_token_reused");
    await problem(await refresh(a!.refresh_token), 401, "invalid_token");
  });

  it("a made-up token that names a real session is refused and changes nothing", async () => {
    const user = await register();
    const forged = `${sidOf(user.accessToken)}.${base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
    await problem(await refresh(forged), 401, "invalid_token");
    expect((await refresh(user.refreshToken)).status).toBe(200);
  });

  it("a step-up's new token names the session too, and refreshes in one D1 call", async () => {
    const user = await register();
    const bare = await makeBare(user);
    const stepped = await call("/api/v1/auth/step-up", { token: user.accessToken, body: { method: "password", password: user.password } });
    const { refresh_token } = await pairOf(stepped);
    expect(NAMED.exec(refresh_token)?.[1]).toBe(sidOf(user.accessToken));
    await problem(await refresh(bare), 401, "invalid_token");
    const { DB, counts } = countingD1();
    await pairOf(await refresh(refresh_token, { env: { DB } }));
    expect(counts).toEqual({ primary: 1, replica: 0 });
  });
});

describe("the per-IP refresh limit counts beside the rotation", () => {
  const TWO_A_MINUTE = { RATE_LIMITS: JSON.stringify({ refresh_ip_minute: { limit: 2, window: 60 } }) };

  it("a spent budget refuses presentations that rotate nothing, never a rotation it already made", async () => {
    const user = await register();
    const ip = freshIp();
    const send = (token: string) => call("/api/v1/auth/refresh", { body: { refresh_token: token }, ip, env: TWO_A_MINUTE });
    const first = await pairOf(await send(user.refreshToken));
    const second = await pairOf(await send(first.refresh_token));
    // The third in the minute from this address: the budget is spent, but the rotation happened, so
    // its tokens are the answer (a 429 would leave the client holding a retired token).
    const third = await send(second.refresh_token);
    expect(third.status).toBe(200);
    const { refresh_token: live } = await third.json<{ refresh_token: string }>();
    // A made-up token from the same address over the budget: 429, not 401.
    await problem(await send(`${sidOf(user.accessToken)}.${base64url(crypto.getRandomValues(new Uint8Array(32)))}`), 429, "rate_limited");
    // And the live token still works from another address.
    expect((await call("/api/v1/auth/refresh", { body: { refresh_token: live }, ip: freshIp() })).status).toBe(200);
  });
});

describe("POST /auth/logout (this session) is one D1 call", () => {
  const logout = (token: string, extra: { env?: { DB: D1Database }; body?: unknown } = {}) =>
    call("/api/v1/auth/logout", { method: "POST", token, ...extra });

  it("revokes the session in one call to the primary, no replica read", async () => {
    const user = await register();
    const { DB, counts } = countingD1();
    const lines = requestLines();
    expect((await logout(user.accessToken, { env: { DB } })).status).toBe(204);
    expect(counts.replica).toBe(0);
    const [line] = lines();
    expect(line).toMatchObject({ route: "/api/v1/auth/logout", status: 204, storage: { d1: 1 } });
    vi.restoreAllMocks();
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "token_revoked");
    await problem(await refresh(user.refreshToken), 401, "invalid_token");
  });

  it("a second logout with the same token: 401 token_revoked with the challenge, and nothing recorded twice", async () => {
    const user = await register();
    expect((await logout(user.accessToken)).status).toBe(204);
    const again = await logout(user.accessToken);
    await problem(again, 401, "token_revoked");
    expect(again.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_logs WHERE user_id = ? AND action = 'logout'")
      .bind(user.userId)
      .first<{ n: number }>();
    expect(audit?.n).toBe(1);
  });

  it.each([
    ["a session past the credentials epoch", "token_revoked", "UPDATE users SET credentials_epoch = credentials_epoch + 1 WHERE id = ?1"],
    ["a deactivated user", "invalid_token", "UPDATE users SET is_active = 0 WHERE id = ?1"],
    ["a deleted user", "invalid_token", "UPDATE users SET deleted_at = 1 WHERE id = ?1"],
    ["an expired session", "token_expired", "UPDATE sessions SET expires_at = 1 WHERE user_id = ?1"],
  ])("refuses the token of %s as requireAuth() does (%s), revoking nothing", async (_, code, sql) => {
    const user = await register();
    const other = await pairOf(await login({ email: user.email, password: user.password }));
    await env.DB.prepare(sql).bind(user.userId).run();
    const res = await logout(user.accessToken, { body: { refresh_token: other.refresh_token } });
    await problem(res, 401, code);
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    const { results } = await env.DB.prepare("SELECT revoked_at FROM sessions WHERE user_id = ?")
      .bind(user.userId)
      .all<{ revoked_at: number | null }>();
    expect(results.map((r) => r.revoked_at)).toEqual([null, null]);
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_logs WHERE user_id = ? AND action = 'logout'")
      .bind(user.userId)
      .first<{ n: number }>();
    expect(audit?.n).toBe(0);
  });

  it("refuses tokens it cannot verify, API keys and enrolment tokens as before", async () => {
    const user = await register();
    await problem(await logout("not-a-token"), 401, "invalid_token");
    await problem(await logout(user.refreshToken), 401, "invalid_token");
    const created = await call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "k" } });
    const { api_key } = await created.json<{ api_key: string }>();
    await problem(await logout(api_key), 403, "insufficient_scope");
    const enrolment = await call("/api/v1/auth/logout", { method: "POST", headers: { Authorization: "MFA whatever" } });
    await problem(enrolment, 401, "invalid_token");
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(200);
  });
});
