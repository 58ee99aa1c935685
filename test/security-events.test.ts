import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { formatLogLine, log } from "../src/log";
import { redactSecrets } from "../src/audit/audit";
import { call, env, freshIp, login, problem, register } from "./helpers";
import type { SecurityEvent } from "../src/audit/security-events";

/** The security log: what a scripted sequence of events leaves in the caller's trail, paging, retention. */

const EVENTS = "/api/v1/users/me/security-events";

interface Page {
  events: SecurityEvent[];
  next_cursor: string | null;
}

async function page(token: string, query = ""): Promise<Page> {
  const res = await call(`${EVENTS}${query}`, { token });
  const body = await res.json<Page>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** Walks every page with `limit` and returns the events in the order served. */
async function walk(token: string, limit: number): Promise<{ events: SecurityEvent[]; pages: number }> {
  const events: SecurityEvent[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const p = await page(token, `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(p.events.length).toBeLessThanOrEqual(limit);
    events.push(...p.events);
    cursor = p.next_cursor;
    pages += 1;
  } while (cursor && pages < 50);
  return { events, pages };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the caller's security events", () => {
  it("records a scripted sequence, newest first, with no secrets in it", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    let clock = new Date("2032-01-10T08:00:00Z").getTime();
    const tick = () => vi.setSystemTime((clock += 1000));
    tick();
    const user = await register();
    const loginIp = freshIp();
    tick();
    const failed = await login({ email: user.email, password: "not the password at all" }, loginIp);
    await problem(failed, 401, "invalid_credentials");
    tick();
    // From the registering device (its device token): a new device would add `login.new_device` (threat-signals.test.ts).
    const ok = await call("/api/v1/auth/login", {
      body: { email: user.email, password: user.password, device_token: user.body.device_token },
      ip: loginIp,
      headers: { "User-Agent": "ScriptedClient/1.0" },
    });
    expect(ok.status).toBe(200);
    const tokens = await ok.json<{ access_token: string; refresh_token: string }>();
    tick();
    const created = await call("/api/v1/users/me/api-keys", { token: tokens.access_token, body: { name: "script" } });
    const key = await created.json<{ id: string; api_key: string }>();
    expect(created.status).toBe(201);
    tick();
    const keyIp = freshIp();
    // The new-IP event is written after the response, which call() waits for: the order below is fixed.
    expect((await call("/api/v1/users/me", { token: key.api_key, ip: keyIp })).status).toBe(200);
    tick();
    expect((await call(`/api/v1/users/me/api-keys/${key.id}`, { method: "DELETE", token: tokens.access_token })).status).toBe(204);

    const res = await call(EVENTS, { token: tokens.access_token });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    const { events, next_cursor } = JSON.parse(text) as Page;
    expect(next_cursor).toBeNull();
    expect(events.map((e) => e.action)).toEqual([
      "api_key.revoked",
      "api_key.used_new_ip",
      "api_key.created",
      "login.succeeded",
      "login.failed",
      "user.registered",
    ]);
    const byAction = Object.fromEntries(events.map((e) => [e.action, e]));
    expect(byAction["login.failed"]).toMatchObject({ ip_address: loginIp, metadata: { identifier: "email" } });
    // The failure reason stays server-side, even from the account owner.
    expect(byAction["login.failed"]!.metadata).not.toHaveProperty("reason");
    expect(byAction["login.succeeded"]).toMatchObject({ ip_address: loginIp, user_agent: "ScriptedClient/1.0" });
    expect(byAction["api_key.used_new_ip"]).toMatchObject({ ip_address: keyIp, metadata: { api_key_id: key.id, previous_ip: null } });
    expect(byAction["api_key.created"]!.metadata).toMatchObject({ api_key_id: key.id, name: "script" });
    expect(byAction["api_key.revoked"]!.metadata).toMatchObject({ api_key_id: key.id });
    for (const e of events) expect(Object.keys(e).sort()).toEqual(["action", "created_at", "id", "ip_address", "metadata", "user_agent"]);
    const times = events.map((e) => Date.parse(e.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    // Nothing secret anywhere: not in the response, not in the stored rows.
    const rows = await env.DB.prepare("SELECT * FROM audit_logs WHERE user_id = ?").bind(user.userId).all();
    const stored = JSON.stringify(rows.results);
    for (const secret of [
      user.password,
      "not the password at all",
      tokens.access_token,
      tokens.refresh_token,
      key.api_key,
      key.api_key.slice(-64),
    ]) {
      expect(text).not.toContain(secret);
      expect(stored).not.toContain(secret);
    }
    // The failure reason is kept server-side.
    expect(stored).toContain("bad_password");
  });

  it("pages with a stable cursor over (created_at, id), ties included", async () => {
    const user = await register();
    // 23 more events, several sharing one millisecond, inserted as the log would hold them.
    const base = Date.now() - 60_000;
    const statements = Array.from({ length: 23 }, (_, i) =>
      env.DB.prepare("INSERT INTO audit_logs (id, user_id, action, ip_address, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?)").bind(
        crypto.randomUUID(),
        user.userId,
        "session.revoked",
        "192.0.2.9",
        JSON.stringify({ n: i }),
        base + Math.floor(i / 4),
      ),
    );
    await env.DB.batch(statements);

    const all = await page(user.accessToken, "?limit=100");
    expect(all.events).toHaveLength(24);
    expect(all.next_cursor).toBeNull();
    const defaultPage = await page(user.accessToken);
    expect(defaultPage.events).toHaveLength(20);
    expect(defaultPage.next_cursor).not.toBeNull();

    for (const limit of [1, 5, 7]) {
      const walked = await walk(user.accessToken, limit);
      expect(walked.events.map((e) => e.id)).toEqual(all.events.map((e) => e.id));
      expect(walked.pages).toBe(Math.ceil(24 / limit));
    }

    // A page fetched with a cursor is unaffected by newer events arriving meanwhile.
    const first = await page(user.accessToken, "?limit=5");
    await call("/api/v1/users/me", { method: "PUT", token: user.accessToken, body: { full_name: "Changed Meanwhile" } });
    const second = await page(user.accessToken, `?limit=5&cursor=${first.next_cursor}`);
    expect(second.events.map((e) => e.id)).toEqual(all.events.slice(5, 10).map((e) => e.id));
  });

  it("shows only the caller's own events", async () => {
    const [alice, bob] = await Promise.all([register(), register()]);
    const aliceIds = (await page(alice.accessToken)).events.map((e) => e.id);
    const bobIds = (await page(bob.accessToken)).events.map((e) => e.id);
    expect(aliceIds).toHaveLength(1);
    expect(bobIds).toHaveLength(1);
    expect(aliceIds).not.toContain(bobIds[0]);
  });

  it.each(["?limit=0", "?limit=101", "?limit=abc", "?limit=2.5", "?cursor=%%%", "?cursor=bm90LWEtY3Vyc29y", `?cursor=${"A".repeat(300)}`])(
    "refuses %s with 422 validation_failed",
    async (query) => {
      const user = await register();
      await problem(await call(`${EVENTS}${query}`, { token: user.accessToken }), 422, "validation_failed");
    },
  );

  it("needs a credential", async () => {
    const res = await call(EVENTS);
    await problem(res, 401, "authentication_required");
  });
});

describe("retention", () => {
  it("the daily cron prunes rows older than AUDIT_RETENTION_DAYS (90 by default) and keeps the rest", async () => {
    const userId = crypto.randomUUID();
    const now = Date.now();
    const insert = (id: string, ageDays: number) =>
      env.DB.prepare("INSERT INTO audit_logs (id, user_id, action, created_at) VALUES (?, ?, 'login.succeeded', ?)").bind(
        id,
        userId,
        now - ageDays * 86_400_000,
      );
    const old = [crypto.randomUUID(), crypto.randomUUID()];
    const recent = [crypto.randomUUID(), crypto.randomUUID()];
    await env.DB.batch([insert(old[0]!, 91), insert(old[1]!, 400), insert(recent[0]!, 89), insert(recent[1]!, 0)]);

    const ctx = createExecutionContext();
    worker.scheduled(createScheduledController({ scheduledTime: new Date(now), cron: "17 3 * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    const left = await env.DB.prepare("SELECT id FROM audit_logs WHERE user_id = ?").bind(userId).all<{ id: string }>();
    expect(left.results.map((r) => r.id).sort()).toEqual([...recent].sort());
  });
});

describe("log lines", () => {
  it("a user agent with CR/LF (or U+2028) cannot start a second log line", () => {
    const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const agent = 'evil/1.0\r\n{"level":"error","event":"forged"}\u2028\u2029';
    log("info", "audit.login.failed", { user_agent: agent });
    expect(spy).toHaveBeenCalledTimes(1);
    const line = spy.mock.calls[0]![0] as string;
    spy.mockRestore();
    expect(line).not.toMatch(/[\r\n\u2028\u2029]/);
    expect(line.split("\n")).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ level: "info", event: "audit.login.failed", user_agent: agent });
    expect(formatLogLine("warn", "x\ny")).not.toContain("\n");
  });

  it("audit metadata is scrubbed of secret-named fields and secret-shaped values", () => {
    const scrubbed = redactSecrets({
      password: "hunter2",
      new_password: "hunter3",
      refresh_token: "abc",
      api_key: "gh_x",
      nested: { secret: "s", ok: "fine" },
      leaked: `gh_${"a".repeat(80)}`,
      jwt: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
      api_key_id: "7f1c2c8e-1111-4222-8333-944444444444",
      sessions_revoked: 2,
    });
    expect(scrubbed).toEqual({
      password: "[redacted]",
      new_password: "[redacted]",
      refresh_token: "[redacted]",
      api_key: "[redacted]",
      nested: { secret: "[redacted]", ok: "fine" },
      leaked: "[redacted]",
      jwt: "[redacted]",
      api_key_id: "7f1c2c8e-1111-4222-8333-944444444444",
      sessions_revoked: 2,
    });
  });
});
