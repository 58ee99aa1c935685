import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { brokenD1, brokenKv, callWithEnv, d1FailingOn, userRow } from "./direct-app";
import { freshIp, problem, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";

/**
 * Fail closed: when D1 or KV cannot be reached the answer is 503 service_unavailable with
 * Retry-After and never a token; an internal error is a bland 500 with no SQL, driver text or stack.
 */

async function expectUnavailable(res: Response) {
  const text = await res.clone().text();
  await problem(res, 503, "service_unavailable");
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(text).not.toMatch(/access_token|refresh_token|Network connection|stack/i);
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Words that would betray SQL, the driver or the code layout. */
const LEAKS = /select|insert|from\s|users|sqlite|d1_|drizzle|params|\.ts\b|\bat\s|stack|failed query/i;

describe("D1 unreachable", () => {
  const DB = brokenD1();

  it("register, login and /users/me answer 503 with Retry-After and no tokens", async () => {
    const user = await register();
    await expectUnavailable(
      await callWithEnv({ DB }, "/api/v1/auth/register", { body: { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "Down" }, ip: freshIp() }),
    );
    await expectUnavailable(await callWithEnv({ DB }, "/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() }));
    await expectUnavailable(await callWithEnv({ DB }, "/api/v1/auth/login", { body: { username: "someone", password: user.password }, ip: freshIp() }));
    await expectUnavailable(await callWithEnv({ DB }, "/api/v1/users/me", { token: user.accessToken }));
  });

  it("also when the failure surfaces in a later statement of the request", async () => {
    // Reads work, writes fail: the login finds the user but cannot record the login or create the session.
    const writesFail = d1FailingOn(/^\s*(insert|update)/i);
    const user = await register();
    await expectUnavailable(await callWithEnv({ DB: writesFail }, "/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() }));
  });
});

describe("KV unreachable", () => {
  const AUTH_KV = brokenKv();

  it("an authenticated request cannot check revocation: 503, not a pass", async () => {
    const user = await register();
    await expectUnavailable(await callWithEnv({ AUTH_KV }, "/api/v1/users/me", { token: user.accessToken }));
    await expectUnavailable(await callWithEnv({ AUTH_KV }, "/api/v1/users/me", { method: "PUT", token: user.accessToken, body: { full_name: "Changed" } }));
    const row = await env.DB.prepare("SELECT full_name FROM users WHERE id = ?").bind(user.userId).first<{ full_name: string }>();
    expect(row?.full_name).toBe("Test User");
  });

  it("registration cannot store the verification token: 503 and no half-made account", async () => {
    const email = uniqueEmail("kvdown");
    await expectUnavailable(
      await callWithEnv({ AUTH_KV }, "/api/v1/auth/register", { body: { email, password: STRONG_PASSWORD, full_name: "KV Down" }, ip: freshIp() }),
    );
    expect(await userRow(email)).toBeNull();
  });

  it("the dev outbox answers 503 rather than an empty list", async () => {
    await expectUnavailable(await callWithEnv({ AUTH_KV }, "/api/v1/dev/outbox?to=someone%40example.com"));
  });
});

describe("internal errors are bland", () => {
  it("a SQL error is a 500 internal_error without SQL, driver text or stack", async () => {
    const DB = brokenD1(() => new Error("D1_ERROR: no such table: users: SQLITE_ERROR"));
    const user = await register();
    for (const res of [
      await callWithEnv({ DB }, "/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() }),
      await callWithEnv({ DB }, "/api/v1/users/me", { token: user.accessToken }),
    ]) {
      const text = await res.clone().text();
      const body = await problem(res, 500, "internal_error");
      expect(Object.keys(body).sort()).toEqual(["code", "detail", "request_id", "status", "title", "type"]);
      expect(text).not.toMatch(LEAKS);
      expect(text).not.toContain(user.email);
    }
  });

  it("a constraint error on an unexpected column is a bland 500 too", async () => {
    const DB = brokenD1(() => new Error("D1_ERROR: NOT NULL constraint failed: sessions.rotation_key: SQLITE_CONSTRAINT"));
    const res = await callWithEnv({ DB }, "/api/v1/auth/register", {
      body: { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "Bland" },
      ip: freshIp(),
    });
    const text = await res.clone().text();
    await problem(res, 500, "internal_error");
    expect(text).not.toMatch(LEAKS);
  });

  it("a broken configuration is a bland 500 naming no variable", async () => {
    const res = await callWithEnv({ JWT_ALG: "none" }, "/health");
    const text = await res.clone().text();
    await problem(res, 500, "internal_error");
    expect(text).not.toMatch(/JWT_ALG|config/i);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("logs of failures carry no secrets", () => {
  /** Every line the worker logs while `run` executes. */
  async function logsDuring(run: () => Promise<unknown>): Promise<string> {
    const lines: string[] = [];
    for (const level of ["log", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    }
    await run();
    vi.restoreAllMocks();
    return lines.join("\n");
  }

  it("a failed query is logged without its bound parameters (emails, hashes)", async () => {
    // Reads succeed, the INSERT of the new user fails: its parameters hold the email and the hash.
    const failingInsert = d1FailingOn(/^\s*insert\s+into\s+"users"/i);
    const email = uniqueEmail("logged");
    const logs = await logsDuring(async () => {
      const res = await callWithEnv({ DB: failingInsert }, "/api/v1/auth/register", {
        body: { email, password: STRONG_PASSWORD, full_name: "Log Check" },
        ip: freshIp(),
      });
      expect(res.status).toBe(503);
    });
    expect(logs).toContain("dependency.unavailable");
    expect(logs).not.toContain(email);
    expect(logs).not.toContain("$pbkdf2");
    expect(logs).not.toContain(STRONG_PASSWORD);
    expect(logs).not.toMatch(/params:/);
  });

  it("an internal error is logged without bound parameters either", async () => {
    const DB = brokenD1(() => new Error("D1_ERROR: no such table: users: SQLITE_ERROR"));
    const email = uniqueEmail("logged");
    const logs = await logsDuring(() => callWithEnv({ DB }, "/api/v1/auth/login", { body: { email, password: STRONG_PASSWORD }, ip: freshIp() }));
    expect(logs).toContain("request.failed");
    expect(logs).not.toContain(email);
    expect(logs).not.toMatch(/params:/);
  });
});
