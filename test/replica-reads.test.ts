import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { sha256 } from "../src/crypto";
import { createDb } from "../src/db/client";
import { findSessionWithUser } from "../src/db/sessions";
import { call, freshIp, problem, register } from "./helpers";

/**
 * Credential checks read a D1 replica (Sessions API) before the primary. A replica may
 * lag; these tests give the worker one that is empty (knows nothing yet) or frozen (answers as it
 * did before a revocation) and check that a lagging replica can delay a revocation (by design, for
 * at most the lag) but never refuses a valid credential and never lets a dead session rotate. The
 * other half of the revocation bound (replica lag + 0.4 s) is the isolate cache in front of it.
 */

type Mode = "empty" | "record" | "frozen";
const METHODS = new Set(["all", "raw", "first", "run"]);

/** A D1 binding whose Sessions API sessions (other than `first-primary`) read a fake replica. */
function withReplica(): { DB: D1Database; set: (mode: Mode) => void } {
  let mode: Mode = "record";
  const recorded = new Map<string, unknown>();
  const statement = (sql: string, params: unknown[]): D1PreparedStatement =>
    new Proxy({} as D1PreparedStatement, {
      get(_target, prop) {
        if (prop === "bind") return (...args: unknown[]) => statement(sql, args);
        if (typeof prop !== "string" || !METHODS.has(prop)) return undefined;
        return async (...args: unknown[]) => {
          const key = `${prop} ${sql} ${JSON.stringify(params)}`;
          if (mode === "empty") return prop === "first" ? null : prop === "raw" ? [] : { results: [], success: true, meta: {} };
          if (mode === "frozen" && recorded.has(key)) return recorded.get(key);
          const real = env.DB.prepare(sql).bind(...params) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
          const result = await real[prop]!(...args);
          if (mode === "record") recorded.set(key, result);
          return result;
        };
      },
    });
  const replica = {
    prepare: (sql: string) => statement(sql, []),
    batch: (statements: D1PreparedStatement[]) => Promise.all(statements.map((s) => s.all())),
    getBookmark: () => null,
  } as unknown as D1DatabaseSession;
  const DB = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "withSession")
        return (constraint?: string) => (constraint === "first-primary" ? target.withSession(constraint) : replica);
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { DB, set: (next) => (mode = next) };
}

describe("credential reads from a lagging replica", () => {
  it("a replica that does not know the session yet refuses nothing: the primary answers", async () => {
    const user = await register();
    const replica = withReplica();
    replica.set("empty");
    expect((await call("/api/v1/users/me", { token: user.accessToken, env: { DB: replica.DB } })).status).toBe(200);
    const refreshed = await call("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken }, env: { DB: replica.DB } });
    expect(refreshed.status).toBe(200);
  });

  it("a frozen replica delays a logout only until the primary is asked; it never rotates the dead session", async () => {
    const user = await register();
    const replica = withReplica();
    // The replica's last view: the session live.
    expect((await call("/api/v1/users/me", { token: user.accessToken, env: { DB: replica.DB } })).status).toBe(200);
    // …and the refresh token's session live (read as refresh reads it, without rotating it).
    expect(await findSessionWithUser(createDb(replica.DB.withSession()), await sha256(user.refreshToken))).toBeDefined();
    replica.set("frozen");

    await call("/api/v1/auth/logout?scope=all", { method: "POST", token: user.accessToken });
    // The frozen replica still says "live": within the replica's lag the token is accepted (the
    // documented bound); the primary, asked directly, refuses.
    expect((await call("/api/v1/users/me", { token: user.accessToken, env: { DB: replica.DB } })).status).toBe(200);
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "token_revoked");
    // The replica still shows the session live with this token: a refresh that reads it there cannot
    // rotate, because the rotation is fenced on the primary's session and user state.
    const stale = await call("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken }, env: { DB: replica.DB } });
    await problem(stale, 401, "invalid_token");
  });
});

describe("logins read the account from a replica, and the write is fenced on the primary", () => {
  const loginVia = (DB: D1Database, body: Record<string, unknown>) => call("/api/v1/auth/login", { body, env: { DB }, ip: freshIp() });

  it("a replica that does not know the account yet refuses nothing: the primary answers", async () => {
    const user = await register({ username: `fresh${crypto.randomUUID().slice(0, 8)}` });
    const replica = withReplica();
    replica.set("empty");
    expect((await loginVia(replica.DB, { email: user.email, password: user.password })).status).toBe(200);
    const { username } = user.body.user as { username: string };
    const withDevice = { username, password: user.password, device_token: user.body.device_token };
    expect((await loginVia(replica.DB, withDevice)).status).toBe(200);
  });

  it("a replica with the old password: the old one never gets in, the new one does", async () => {
    const user = await register();
    const replica = withReplica();
    // The replica's last view of the account: the first password.
    expect((await loginVia(replica.DB, { email: user.email, password: user.password })).status).toBe(200);
    replica.set("frozen");
    const newPassword = "a brand new passphrase 9";
    const changed = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: newPassword },
    });
    expect(changed.status).toBe(204);

    const old = await loginVia(replica.DB, { email: user.email, password: user.password });
    await problem(old, 401, "invalid_credentials");
    expect((await loginVia(replica.DB, { email: user.email, password: newPassword })).status).toBe(200);
    // The refused old password wrote no session: the user's only live sessions are the new password's.
    const { results } = await env.DB.prepare("SELECT credentials_epoch FROM sessions WHERE user_id = ? AND revoked_at IS NULL")
      .bind(user.userId)
      .all<{ credentials_epoch: number }>();
    const epoch = await env.DB.prepare("SELECT credentials_epoch AS e FROM users WHERE id = ?").bind(user.userId).first<{ e: number }>();
    expect(results.every((r) => r.credentials_epoch >= epoch!.e)).toBe(true);
    const failed = await env.DB.prepare("SELECT metadata FROM audit_logs WHERE user_id = ? AND action = 'login.failed'")
      .bind(user.userId)
      .all<{ metadata: string }>();
    expect(failed.results.map((r) => (JSON.parse(r.metadata) as { reason: string }).reason)).toEqual(["bad_password"]);
  });

  it("an account deactivated on the primary does not sign in from a replica that still has it active", async () => {
    const user = await register();
    const replica = withReplica();
    expect((await loginVia(replica.DB, { email: user.email, password: user.password })).status).toBe(200);
    replica.set("frozen");
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(user.userId).run();
    await problem(await loginVia(replica.DB, { email: user.email, password: user.password }), 401, "invalid_credentials");
  });

  it("registration: a replica that does not know a taken address yet still gets 409 (the unique index decides)", async () => {
    const user = await register();
    const replica = withReplica();
    replica.set("empty");
    const again = await call("/api/v1/auth/register", {
      body: { email: user.email, password: "another sound passphrase 7", full_name: "Again" },
      env: { DB: replica.DB },
      ip: freshIp(),
    });
    await problem(again, 409, "email_taken");
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM users WHERE email = ?").bind(user.email).first<{ n: number }>())!;
    expect(n).toBe(1);
  });
});

describe("the isolate cache in front of the replica", () => {
  it("an isolate that accepted a token keeps accepting it for 0.4 s after a revocation elsewhere, then refuses it", async () => {
    const user = await register();
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    // Another isolate: a bindings object of its own, so a cache of its own. (The isolate that writes
    // the revocation empties its own cache at once: the logout's requests use the default one.)
    const elsewhere = { ...env };
    const me = () => call("/api/v1/users/me", { token: user.accessToken, bindings: elsewhere });
    expect((await me()).status).toBe(200);

    await call("/api/v1/auth/logout?scope=all", { method: "POST", token: user.accessToken });
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "token_revoked");
    // No replica lag here (the local D1 is current): only the cache's age keeps the token alive.
    expect((await me()).status).toBe(200);
    vi.setSystemTime(start + 399);
    expect((await me()).status).toBe(200);
    vi.setSystemTime(start + 400);
    await problem(await me(), 401, "token_revoked");
    // A refusal is never cached: it stays refused.
    vi.setSystemTime(start + 401);
    await problem(await me(), 401, "token_revoked");
  });
});
