import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import bcrypt from "bcryptjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RateLimiter, TICKET_TTL_MS } from "../src/abuse/objects/rate-limiter";
import { hashPassword } from "../src/accounts/passwords";
import { app } from "../src/app";
import { readConfig, type Bindings } from "../src/config";
import type { TokenResponse } from "../src/sessions/sessions";
import {
  auditRows,
  buildRequest,
  call,
  captureLogs,
  freshIp,
  login,
  problem,
  register,
  STRONG_PASSWORD,
  uniqueEmail,
  userRow,
} from "./helpers";

/** Login: identifiers, hashing upgrades, the iteration cap, the unknown-user code path, audit rows. */

afterEach(() => {
  vi.restoreAllMocks();
});

/** Inserts a user row directly, as an import from another system would. */
async function insertUser(email: string, passwordHash: string): Promise<string> {
  const id = crypto.randomUUID();
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) VALUES (?, ?, ?, 'Imported User', ?, ?)",
  )
    .bind(id, email, passwordHash, now, now)
    .run();
  return id;
}

async function storedHash(email: string): Promise<string> {
  return (await userRow(email))?.password_hash as string;
}

/** The user's audit rows of `action`, oldest first. */
const userAudit = (userId: string, action: string) => auditRows("user_id = ? AND action = ?", userId, action);

describe("login", () => {
  it("answers a TokenResponse and works with any casing of the email", async () => {
    const user = await register();
    const res = await login({ email: `  ${user.email.toUpperCase()} `, password: user.password });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json<TokenResponse>();
    expect(Object.keys(body).sort()).toEqual([
      "access_token",
      "device_token",
      "expires_in",
      "refresh_expires_in",
      "refresh_token",
      "token_type",
      "user",
    ]);
    expect(body.user.email).toBe(user.email);
    expect(body.user.last_login_at).not.toBeNull();
  });

  it("works by username, case-insensitively", async () => {
    const username = `Login_${Date.now()}`;
    const user = await register({ username });
    expect((await login({ username: username.toLowerCase(), password: user.password })).status).toBe(200);
  });

  it("answers the same 401 for a wrong password and an unknown account", async () => {
    const user = await register();
    const wrong = await problem(await login({ email: user.email, password: "not my password 1" }), 401, "invalid_credentials");
    const unknown = await problem(await login({ email: uniqueEmail("ghost"), password: "not my password 1" }), 401, "invalid_credentials");
    expect(wrong.detail).toBe(unknown.detail);
    expect(wrong.title).toBe(unknown.title);
  });

  it("refuses a body with both or neither identifier (422)", async () => {
    await problem(await login({ password: STRONG_PASSWORD }), 422, "validation_failed");
    await problem(await login({ email: uniqueEmail(), username: "someone", password: STRONG_PASSWORD }), 422, "validation_failed");
  });

  it("refuses an inactive account with the same 401, the right password or not", async () => {
    const user = await register();
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(user.userId).run();
    // Only the hosted sign-in page tells the owner (test/pages.test.ts): the API's answer is the same
    // for the right password, a wrong one and an unknown account, headers and body alike.
    const answers = [
      await login({ email: user.email, password: user.password }),
      await login({ email: user.email, password: "not my password 1" }),
      await login({ email: uniqueEmail("ghost"), password: "not my password 1" }),
    ];
    const shapes = await Promise.all(
      answers.map(async (res) => {
        const body = await problem(res, 401, "invalid_credentials");
        delete body.request_id;
        // Values that differ between any two requests: only their presence is compared.
        const varying = ["x-request-id", "date", "gatehouse-bookmark"];
        const headers = [...res.headers].map(([name, value]) => [name, varying.includes(name) ? "…" : value]).sort();
        return { body, headers };
      }),
    );
    expect(shapes[0]).toEqual(shapes[1]);
    expect(shapes[0]).toEqual(shapes[2]);
    expect(JSON.stringify(shapes[0])).not.toMatch(/deactivat|inactive/i);
  });

  it("writes an audit row for success and for failure, without the password", async () => {
    const user = await register();
    const ip = freshIp();
    expect((await login({ email: user.email, password: user.password }, ip)).status).toBe(200);
    const badPassword = "wrong-but-recorded? 12";
    expect((await login({ email: user.email, password: badPassword }, ip)).status).toBe(401);
    const succeeded = await userAudit(user.userId, "login.succeeded");
    const failed = await userAudit(user.userId, "login.failed");
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]?.ip_address).toBe(ip);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.metadata).toMatchObject({ reason: "bad_password" });
    const all = JSON.stringify([...succeeded, ...failed]);
    expect(all).not.toContain(badPassword);
    expect(all).not.toContain(user.password);
  });

  it("audits a failure for an unknown account without a user id", async () => {
    const ip = freshIp();
    await login({ email: uniqueEmail("nobody"), password: "whatever it is 12" }, ip);
    const row = await env.DB.prepare("SELECT * FROM audit_logs WHERE action = 'login.failed' AND ip_address = ?")
      .bind(ip)
      .first<Record<string, unknown>>();
    expect(row?.user_id).toBeNull();
    expect(JSON.parse(row?.metadata as string)).toMatchObject({ reason: "unknown_account" });
  });
});

describe("rehash on login", () => {
  it("upgrades a PBKDF2 hash with outdated iterations to 100000", async () => {
    const email = uniqueEmail("old");
    const password = "old iteration count 9";
    // The production default (PBKDF2_ITERATIONS unset), not the suite's cheaper setting.
    const loginAtDefault = () =>
      call("/api/v1/auth/login", { env: { PBKDF2_ITERATIONS: undefined }, body: { email, password }, ip: freshIp() });
    await insertUser(email, await hashPassword(password, { iterations: 50_000, pepper: undefined }));
    expect(await storedHash(email)).toContain("i=50000");
    expect((await loginAtDefault()).status).toBe(200);
    const upgraded = await storedHash(email);
    expect(upgraded).toMatch(/^\$pbkdf2-sha256\$v=1\$i=100000,p=0\$/);
    expect((await loginAtDefault()).status).toBe(200);
    expect(await storedHash(email)).toBe(upgraded);
  });

  it("does not touch the hash after a wrong password", async () => {
    const email = uniqueEmail("old");
    const hash = await hashPassword("old iteration count 9", { iterations: 50_000, pepper: undefined });
    await insertUser(email, hash);
    expect((await login({ email, password: "not it at all 4" })).status).toBe(401);
    expect(await storedHash(email)).toBe(hash);
  });

  for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
    it(`imports a bcrypt ${prefix} hash and upgrades it to PBKDF2 on login`, async () => {
      const email = uniqueEmail("bcrypt");
      const password = "migrated from rails 42";
      const hash = prefix + bcrypt.hashSync(password, 4).slice(4);
      const userId = await insertUser(email, hash);
      await problem(await login({ email, password: "migrated from django 42" }), 401, "invalid_credentials");
      expect(await storedHash(email)).toBe(hash);
      const res = await login({ email: email.toUpperCase(), password });
      expect(res.status).toBe(200);
      expect((await res.json<{ user: { id: string } }>()).user.id).toBe(userId);
      // Rehashed at the configured count (the suite's PBKDF2_ITERATIONS).
      expect(await storedHash(email)).toMatch(new RegExp(`^\\$pbkdf2-sha256\\$v=1\\$i=${readConfig(env).pbkdf2Iterations},p=0\\$`));
      expect((await login({ email, password })).status).toBe(200);
    });
  }

  it("never accepts a stored hash above the 100k iteration cap", async () => {
    const email = uniqueEmail("capped");
    const password = "too many iterations 3";
    const hash = (await hashPassword(password, { iterations: 50_000, pepper: undefined })).replace("i=50000", "i=200000");
    await insertUser(email, hash);
    // Decided: such a hash is a data error for the operator (logged), never a login: a bland 500.
    const logs = captureLogs();
    const body = await problem(await login({ email, password }), 500, "internal_error");
    expect(logs.problems()).toEqual([
      expect.objectContaining({
        level: "error",
        event: "request.failed",
        path: "/api/v1/auth/login",
        message: expect.stringMatching(/iterations above 100000/) as unknown,
      }),
    ]);
    expect(logs.text()).not.toContain(password);
    expect(body.access_token).toBeUndefined();
    expect(JSON.stringify(body)).not.toMatch(/iteration|pbkdf2|stack/i);
    expect(await storedHash(email)).toBe(hash);
  });
});

describe("timing: an unknown account costs one PBKDF2 like a known one", () => {
  async function derivations(credentials: Record<string, unknown>): Promise<{ status: number; count: number }> {
    const spy = vi.spyOn(crypto.subtle, "deriveBits");
    const res = await login(credentials);
    const count = spy.mock.calls.filter(([algorithm]) => (algorithm as { name?: string }).name === "PBKDF2").length;
    spy.mockRestore();
    return { status: res.status, count };
  }

  it("derives exactly once for an unknown email and for a wrong password", async () => {
    const user = await register();
    const unknown = await derivations({ email: uniqueEmail("ghost"), password: "some password 123" });
    const wrong = await derivations({ email: user.email, password: "some password 123" });
    const unknownUsername = await derivations({ username: `ghost_${Date.now()}`, password: "some password 123" });
    expect(unknown).toEqual({ status: 401, count: 1 });
    expect(wrong).toEqual({ status: 401, count: 1 });
    expect(unknownUsername).toEqual({ status: 401, count: 1 });
  });

  it("registering a taken address still costs one PBKDF2, like a new one", async () => {
    const user = await register();
    const spy = vi.spyOn(crypto.subtle, "deriveBits");
    const res = await call("/api/v1/auth/register", {
      body: { email: user.email, password: STRONG_PASSWORD, full_name: "Dup" },
      ip: freshIp(),
    });
    expect(res.status).toBe(409);
    expect(spy.mock.calls.filter(([a]) => (a as { name?: string }).name === "PBKDF2")).toHaveLength(1);
  });
});

/**
 * The RateLimiter namespace with every `settleGuess` held until `release()`: the settles a login
 * runs after its response, kept from landing while a test looks at what the answers were.
 */
function heldSettles(): { RATE_LIMITER: Bindings["RATE_LIMITER"]; release: () => void } {
  let release = () => undefined as void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const bound = (target: object, prop: string | symbol) => {
    const value = Reflect.get(target, prop, target) as unknown;
    return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  };
  const RATE_LIMITER = new Proxy(env.RATE_LIMITER, {
    get(namespace, prop) {
      if (prop !== "get") return bound(namespace, prop);
      return (id: DurableObjectId) => {
        const stub = namespace.get(id);
        return new Proxy(stub, {
          get(target, name) {
            // An RPC stub's methods need no binding (and `bind` itself would be sent as a call).
            if (name !== "settleGuess") return Reflect.get(target, name) as unknown;
            return (...args: Parameters<typeof stub.settleGuess>) => gate.then(() => target.settleGuess(...args));
          },
        });
      };
    },
  });
  return { RATE_LIMITER, release };
}

const accountObject = (email: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`account:${email}`));

describe("a login's settles run after its response", () => {
  it("a parallel burst still gets exactly 5 guesses evaluated while no settle has landed, then locks", async () => {
    const user = await register();
    const { RATE_LIMITER, release } = heldSettles();
    const bindings = { ...env, RATE_LIMITER };
    const contexts: ReturnType<typeof createExecutionContext>[] = [];
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => {
        const ctx = createExecutionContext();
        contexts.push(ctx);
        const request = buildRequest("/api/v1/auth/login", { body: { email: user.email, password: "not the password" }, ip: freshIp() });
        return Promise.resolve(app.fetch(request, bindings, ctx));
      }),
    );
    // Every answer is out, and none of the five evaluated guesses has been settled yet.
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(5).fill(401), ...Array<number>(7).fill(423)]);
    expect(await accountObject(user.email).inspect(Date.now())).toMatchObject({ failures: 0, pending: 5 });
    expect(await userAudit(user.userId, "login.failed")).toHaveLength(5);

    release();
    await Promise.all(contexts.map((ctx) => waitOnExecutionContext(ctx)));
    expect(await accountObject(user.email).inspect(Date.now())).toMatchObject({ failures: 5, pending: 0 });
    expect(await userAudit(user.userId, "account.locked")).toHaveLength(1);
    await problem(await login({ email: user.email, password: user.password }), 423, "account_locked");
  });

  it("a login refused by its IP's limit releases the guess it was admitted: it neither counts nor expires into a failure", async () => {
    const user = await register();
    for (let i = 0; i < 4; i++) expect((await login({ email: user.email, password: "not the password" })).status).toBe(401);
    const ip = freshIp();
    // The IP spends its 5 logins a minute on other addresses.
    for (let i = 0; i < 5; i++) expect((await login({ email: uniqueEmail(), password: "not the password" }, ip)).status).toBe(401);
    await problem(await login({ email: user.email, password: "not the password" }, ip), 429, "rate_limited");

    // Four failures, nothing pending, and the account's hourly attempts as they were: even once an
    // unreported ticket would have expired into a fifth failure (and locked the account).
    const object = accountObject(user.email);
    expect(await object.inspect(Date.now() + TICKET_TTL_MS + 1_000)).toMatchObject({ failures: 4, pending: 0, lockedUntil: null });
    const hits = await runInDurableObject(object, (_: RateLimiter, state: DurableObjectState) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits WHERE action = 'login'").one(),
    );
    expect(hits.n).toBe(4);
    // So the owner is not locked out by it.
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
  });

  it("a claimed device token that is not the account's known device is released and tried as a stranger", async () => {
    const user = await register();
    const other = await register();
    // Another account's genuine token: its device id is real, but not this account's device.
    const claimed = other.body.device_token as string;
    const deviceId = claimed.split(".")[1]!;
    const res = await login({ email: user.email, password: "not the password", device_token: claimed });
    await problem(res, 401, "invalid_credentials");
    const device = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`device:${deviceId}`));
    expect(await device.inspect(Date.now() + TICKET_TTL_MS + 1_000)).toMatchObject({ failures: 0, pending: 0 });
    expect(await accountObject(user.email).inspect(Date.now())).toMatchObject({ failures: 1, pending: 0 });
    // The other account's owner still signs in with that device as a known one.
    expect((await login({ email: other.email, password: other.password, device_token: claimed })).status).toBe(200);
  });
});
