import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { brokenD1, brokenKv, d1FailingOn } from "./broken-bindings";
import { call, captureLogs, env, freshIp, problem, register, STRONG_PASSWORD, uniqueEmail, userRow, type CapturedLogs } from "./helpers";

/**
 * Fail closed: when D1 or KV cannot be reached the answer is 503 service_unavailable with
 * Retry-After and never a token; an internal error is a bland 500 with no SQL, driver text or stack.
 * Each failure is logged for the operator: the tests capture those lines and check them.
 */

async function expectUnavailable(res: Response) {
  const text = await res.clone().text();
  await problem(res, 503, "service_unavailable");
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(text).not.toMatch(/access_token|refresh_token|Network connection|stack/i);
}

let logs: CapturedLogs;

beforeEach(() => {
  logs = captureLogs();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The warn and error lines logged so far, as `event` plus the fields named in `keep`. */
function logged(...keep: string[]): Record<string, unknown>[] {
  return logs
    .problems()
    .map((line) =>
      Object.fromEntries<unknown>([["level", line.level], ["event", line.event], ...keep.map((k): [string, unknown] => [k, line[k]])]),
    );
}

/** Words that would betray SQL, the driver or the code layout. */
const LEAKS = /select|insert|from\s|users|sqlite|d1_|drizzle|params|\.ts\b|\bat\s|stack|failed query/i;

const d1Down = { level: "error", event: "dependency.unavailable", dependency: "d1" };
const kvDown = { level: "error", event: "dependency.unavailable", dependency: "kv" };

describe("D1 unreachable", () => {
  const DB = brokenD1();

  it("register, login and /users/me answer 503 with Retry-After and no tokens", async () => {
    const user = await register();
    await expectUnavailable(
      await call("/api/v1/auth/register", {
        env: { DB },
        body: { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "Down" },
        ip: freshIp(),
      }),
    );
    await expectUnavailable(
      await call("/api/v1/auth/login", { env: { DB }, body: { email: user.email, password: user.password }, ip: freshIp() }),
    );
    await expectUnavailable(
      await call("/api/v1/auth/login", { env: { DB }, body: { username: "someone", password: user.password }, ip: freshIp() }),
    );
    await expectUnavailable(await call("/api/v1/users/me", { env: { DB }, token: user.accessToken }));
    expect(logged("dependency")).toEqual([d1Down, d1Down, d1Down, d1Down]);
    expect(logs.text()).not.toContain(user.password);
  });

  it("also when the failure surfaces in a later statement of the request", async () => {
    // Reads work, writes fail: the login finds the user but cannot write its batch (session, last
    // login, device, audit row), and nothing of it is written.
    const writesFail = d1FailingOn(/^\s*(insert|update)/i);
    const user = await register();
    const sessionsBefore = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?")
      .bind(user.userId)
      .first<{ n: number }>();
    await expectUnavailable(
      await call("/api/v1/auth/login", { env: { DB: writesFail }, body: { email: user.email, password: user.password }, ip: freshIp() }),
    );
    expect(logged("dependency")).toEqual([d1Down]);
    const after = await env.DB.prepare(
      "SELECT count(*) AS n, max(u.last_login_at) AS last FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = ?",
    )
      .bind(user.userId)
      .first<{ n: number; last: number | null }>();
    expect(after).toEqual({ n: sessionsBefore!.n, last: null });
  });
});

describe("KV unreachable", () => {
  const AUTH_KV = brokenKv();

  it("authentication does not depend on KV: revocation is D1 state, whose failure is a 503 (above)", async () => {
    const user = await register();
    expect((await call("/api/v1/users/me", { env: { AUTH_KV }, token: user.accessToken })).status).toBe(200);
    await call("/api/v1/auth/logout", { method: "POST", token: user.accessToken });
    await problem(await call("/api/v1/users/me", { env: { AUTH_KV }, token: user.accessToken }), 401, "token_revoked");
    expect(logged("dependency")).toEqual([]);
  });

  it("registration cannot store the verification token: 503 and no half-made account", async () => {
    const email = uniqueEmail("kvdown");
    await expectUnavailable(
      await call("/api/v1/auth/register", {
        env: { AUTH_KV },
        body: { email, password: STRONG_PASSWORD, full_name: "KV Down" },
        ip: freshIp(),
      }),
    );
    expect(await userRow(email)).toBeNull();
    expect(logged("dependency")).toEqual([kvDown]);
  });

  it("the dev outbox answers 503 rather than an empty list", async () => {
    await expectUnavailable(await call("/api/v1/dev/outbox?to=someone%40example.com", { env: { AUTH_KV } }));
    expect(logged("dependency")).toEqual([kvDown]);
  });
});

describe("internal errors are bland", () => {
  it("a SQL error is a 500 internal_error without SQL, driver text or stack", async () => {
    const DB = brokenD1(() => new Error("D1_ERROR: no such table: users: SQLITE_ERROR"));
    const user = await register();
    for (const res of [
      await call("/api/v1/auth/login", { env: { DB }, body: { email: user.email, password: user.password }, ip: freshIp() }),
      await call("/api/v1/users/me", { env: { DB }, token: user.accessToken }),
    ]) {
      const text = await res.clone().text();
      const body = await problem(res, 500, "internal_error");
      expect(Object.keys(body).sort()).toEqual(["code", "detail", "request_id", "status", "title", "type"]);
      expect(text).not.toMatch(LEAKS);
      expect(text).not.toContain(user.email);
    }
    // The operator gets what the client does not: which route failed and the driver's message.
    expect(logged("path", "cause")).toEqual([
      { level: "error", event: "request.failed", path: "/api/v1/auth/login", cause: "Error: D1_ERROR: no such table: users: SQLITE_ERROR" },
      { level: "error", event: "request.failed", path: "/api/v1/users/me", cause: "Error: D1_ERROR: no such table: users: SQLITE_ERROR" },
    ]);
  });

  it("a constraint error on an unexpected column is a bland 500 too", async () => {
    const DB = brokenD1(() => new Error("D1_ERROR: NOT NULL constraint failed: sessions.rotation_key: SQLITE_CONSTRAINT"));
    const res = await call("/api/v1/auth/register", {
      env: { DB },
      body: { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "Bland" },
      ip: freshIp(),
    });
    const text = await res.clone().text();
    await problem(res, 500, "internal_error");
    expect(text).not.toMatch(LEAKS);
    expect(logged("path")).toEqual([{ level: "error", event: "request.failed", path: "/api/v1/auth/register" }]);
  });

  it("a broken configuration is a bland 500 naming no variable", async () => {
    const res = await call("/health", { env: { JWT_ALG: "none" } });
    const text = await res.clone().text();
    await problem(res, 500, "internal_error");
    expect(text).not.toMatch(/JWT_ALG|config/i);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    // The log names the variable, so the operator can fix it.
    expect(logged("error", "message")).toEqual([
      { level: "error", event: "request.failed", error: "ConfigError", message: "invalid configuration: JWT_ALG" },
    ]);
  });
});

describe("logs of failures carry no secrets", () => {
  it("a failed query is logged without its bound parameters (emails, hashes)", async () => {
    // Reads succeed, the INSERT of the new user fails: its parameters hold the email and the hash.
    const failingInsert = d1FailingOn(/^\s*insert\s+into\s+"users"/i);
    const email = uniqueEmail("logged");
    const res = await call("/api/v1/auth/register", {
      env: { DB: failingInsert },
      body: { email, password: STRONG_PASSWORD, full_name: "Log Check" },
      ip: freshIp(),
    });
    expect(res.status).toBe(503);
    expect(logged("dependency")).toEqual([d1Down]);
    const text = logs.text();
    expect(text).toContain("dependency.unavailable");
    expect(text).not.toContain(email);
    expect(text).not.toContain("$pbkdf2");
    expect(text).not.toContain(STRONG_PASSWORD);
    expect(text).not.toMatch(/params:/);
  });

  it("an internal error is logged without bound parameters either", async () => {
    const DB = brokenD1(() => new Error("D1_ERROR: no such table: users: SQLITE_ERROR"));
    const email = uniqueEmail("logged");
    await call("/api/v1/auth/login", { env: { DB }, body: { email, password: STRONG_PASSWORD }, ip: freshIp() });
    expect(logged()).toEqual([{ level: "error", event: "request.failed" }]);
    const text = logs.text();
    expect(text).toContain("request.failed");
    expect(text).not.toContain(email);
    expect(text).not.toMatch(/params:/);
  });
});
