import { afterEach, describe, expect, it, vi } from "vitest";
import type { SessionPage } from "../src/sessions/sessions";
import { call, captureLogs, env, freshIp, login, problem, register, uniqueEmail, type Registered } from "./helpers";

/**
 * Plumbing: Gatehouse's own request ids, any non-refresh-token refused as 401,
 * a configurable password minimum, and a bounded, paginated session list.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SESSIONS = "/api/v1/users/me/sessions";

interface TokenPair {
  access_token: string;
  refresh_token: string;
}

/** The `"event":"request"` lines written while captured (console.log is silenced meanwhile). */
function captureRequestLines(): () => Record<string, unknown>[] {
  const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
  return () =>
    spy.mock.calls
      .map(([line]) => (typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : null))
      .filter((line): line is Record<string, unknown> => line?.event === "request");
}

async function tokenPair(res: Response): Promise<TokenPair> {
  const body = await res.json<TokenPair>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

function refresh(refreshToken: unknown, options: { env?: Record<string, string> } = {}): Promise<Response> {
  return call("/api/v1/auth/refresh", { body: { refresh_token: refreshToken }, ip: freshIp(), ...options });
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("request ids", () => {
  it("are always Gatehouse's own: a client-sent X-Request-Id is not echoed", async () => {
    const clientId = "client-trace-0001";
    const res = await call("/api/v1/auth/login", { body: {}, ip: freshIp(), headers: { "X-Request-Id": clientId } });
    const text = await res.clone().text();
    const body = await problem(res, 422, "validation_failed");
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(UUID);
    expect(id).not.toBe(clientId);
    expect(body.request_id).toBe(id);
    expect(text).not.toContain(clientId);
  });

  it("log the client's id, trimmed and bounded, as client_request_id beside ours", async () => {
    const lines = captureRequestLines();
    const res = await call("/health", { headers: { "X-Request-Id": "  abc-123  " } });
    const long = `${"x".repeat(200)}TAIL`;
    await call("/health", { headers: { "X-Request-Id": long } });
    await call("/health");
    const [first, second, third] = lines();
    expect(first).toMatchObject({ request_id: res.headers.get("x-request-id"), client_request_id: "abc-123" });
    expect(second!.client_request_id).toBe("x".repeat(200));
    expect(third!.client_request_id).toBeNull();
    expect(third!.request_id).toMatch(UUID);
  });
});

describe("POST /auth/refresh with anything but a live refresh token", () => {
  it("is 401 invalid_token whatever its shape: access token, API key, long random text, empty", async () => {
    const user = await register();
    const keyRes = await call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "not a refresh token" } });
    const { api_key: apiKey } = await keyRes.json<{ api_key: string }>();
    expect(keyRes.status).toBe(201);
    const random = Array.from(crypto.getRandomValues(new Uint8Array(5000)), (b) => String.fromCharCode(33 + (b % 94))).join("");

    expect(user.accessToken.length).toBeGreaterThan(256);
    for (const token of [user.accessToken, apiKey, random, ""]) {
      await problem(await refresh(token), 401, "invalid_token");
    }
    // The session itself is untouched: its own refresh token still works.
    await tokenPair(await refresh(user.refreshToken));
  });

  it("is still 422 when the field is missing or not a string", async () => {
    await problem(await call("/api/v1/auth/refresh", { body: {}, ip: freshIp() }), 422, "validation_failed");
    for (const value of [42, null, ["a"], { token: "a" }]) {
      await problem(await refresh(value), 422, "validation_failed");
    }
  });

  it("logout accepts any refresh_token string too, and ends only the caller's session", async () => {
    const user = await register();
    const other = await tokenPair(await login({ email: user.email, password: user.password }));
    const res = await call("/api/v1/auth/logout", { token: user.accessToken, body: { refresh_token: other.access_token } });
    expect(res.status).toBe(204);
    expect((await call(SESSIONS, { token: other.access_token })).status).toBe(200);
  });
});

describe("PASSWORD_MIN_LENGTH", () => {
  const registerWith = (password: string, minLength: string) =>
    call("/api/v1/auth/register", {
      body: { email: uniqueEmail("minlen"), password, full_name: "Test User" },
      ip: freshIp(),
      env: { PASSWORD_MIN_LENGTH: minLength },
    });

  it("raises the minimum: 12 characters are refused at 15, 15 pass", async () => {
    const twelve = "amber quill7";
    const fifteen = "amber quill ok7";
    expect([twelve.length, fifteen.length]).toEqual([12, 15]);
    const body = await problem(await registerWith(twelve, "15"), 422, "weak_password");
    expect(body.errors).toEqual([{ field: "password", message: "Use at least 15 characters." }]);
    expect((await registerWith(fifteen, "15")).status).toBe(201);
    // The default stays 8.
    expect((await registerWith(twelve, "")).status).toBe(201);
  });

  it("applies to a password change as well", async () => {
    const user = await register();
    const res = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: "amber quill7" },
      env: { PASSWORD_MIN_LENGTH: "15" },
    });
    await problem(res, 422, "weak_password");
  });

  it.each(["4", "7", "65", "12.5", "twelve"])("refuses %s as a bland 500 naming no variable", async (value) => {
    const logs = captureLogs();
    const res = await call("/health", { env: { PASSWORD_MIN_LENGTH: value } });
    const text = await res.clone().text();
    await problem(res, 500, "internal_error");
    expect(text).not.toMatch(/PASSWORD|config/i);
    expect(logs.problems()).toMatchObject([{ event: "request.failed", message: "invalid configuration: PASSWORD_MIN_LENGTH" }]);
  });
});

describe("MAX_SESSIONS_PER_USER", () => {
  const CAP = { MAX_SESSIONS_PER_USER: "3" };

  async function loginCapped(user: Registered): Promise<TokenPair> {
    return tokenPair(await call("/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp(), env: CAP }));
  }

  async function liveSessionIds(accessToken: string): Promise<string[]> {
    const res = await call(SESSIONS, { token: accessToken });
    expect(res.status).toBe(200);
    return (await res.json<{ sessions: { id: string }[] }>()).sessions.map((s) => s.id);
  }

  it("five logins leave the cap's 3 live; the least recently used ones end, their tokens with them", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    let now = Date.now();
    const tick = () => vi.setSystemTime((now += 1000));
    tick();
    const user = await register();
    await call("/api/v1/auth/logout", { method: "POST", token: user.accessToken });

    const logins: TokenPair[] = [];
    for (let i = 0; i < 5; i++) {
      tick();
      logins.push(await loginCapped(user));
      if (i === 2) {
        // The oldest login is used again: now the second and third are the least recently used.
        tick();
        logins[0] = await tokenPair(await refresh(logins[0]!.refresh_token, { env: CAP }));
      }
    }
    const [first, second, third, fourth, fifth] = logins as [TokenPair, TokenPair, TokenPair, TokenPair, TokenPair];

    const live = await liveSessionIds(fifth.access_token);
    expect(live).toHaveLength(3);
    for (const ended of [second, third]) {
      await problem(await call(SESSIONS, { token: ended.access_token }), 401, "token_revoked");
      await problem(await refresh(ended.refresh_token), 401, "invalid_token");
    }
    for (const alive of [first, fourth, fifth]) expect((await call(SESSIONS, { token: alive.access_token })).status).toBe(200);

    const { results } = await env.DB.prepare(
      "SELECT revoked_reason AS reason, count(*) AS n FROM sessions WHERE user_id = ? GROUP BY 1 ORDER BY 1",
    )
      .bind(user.userId)
      .all<{ reason: string | null; n: number }>();
    expect(results).toEqual([
      { reason: null, n: 3 },
      { reason: "logout", n: 1 },
      { reason: "session_limit", n: 2 },
    ]);
  });

  it("holds under concurrent logins", async () => {
    const user = await register();
    // Four at once: more parallel guesses than the lockout allows would be refused (423), rightly.
    await Promise.all(Array.from({ length: 4 }, () => loginCapped(user)));
    const row = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL")
      .bind(user.userId)
      .first<{ n: number }>();
    expect(row?.n).toBe(3);
  });

  it.each(["0", "1001", "many"])("refuses %s as a bland 500", async (value) => {
    captureLogs();
    await problem(await call("/health", { env: { MAX_SESSIONS_PER_USER: value } }), 500, "internal_error");
  });
});

describe("GET /users/me/sessions pages", () => {
  it("walks every session newest first with limit=2, without duplicates", async () => {
    const user = await register();
    for (let i = 0; i < 4; i++) await tokenPair(await login({ email: user.email, password: user.password }));

    const all = await (await call(SESSIONS, { token: user.accessToken })).json<SessionPage>();
    expect(all.sessions).toHaveLength(5);
    expect(all.next_cursor).toBeNull();

    const walked: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const res = await call(`${SESSIONS}${query}`, { token: user.accessToken });
      const page = await res.json<SessionPage>();
      expect(res.status).toBe(200);
      sizes.push(page.sessions.length);
      walked.push(...page.sessions.map((s) => s.id));
      cursor = page.next_cursor;
    } while (cursor);

    expect(sizes).toEqual([2, 2, 1]);
    expect(new Set(walked).size).toBe(5);
    expect(walked).toEqual(all.sessions.map((s) => s.id));
    const created = all.sessions.map((s) => s.created_at);
    expect(created).toEqual([...created].sort().reverse());
  });

  it.each(["?limit=0", "?limit=101", "?limit=abc", "?cursor=%%%", "?cursor=bm90LWEtY3Vyc29y", `?cursor=${"A".repeat(300)}`])(
    "refuses %s with 422 validation_failed",
    async (query) => {
      const user = await register();
      await problem(await call(`${SESSIONS}${query}`, { token: user.accessToken }), 422, "validation_failed");
    },
  );
});
