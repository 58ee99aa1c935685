import { describe, expect, it } from "vitest";
import { createExecutionContext } from "cloudflare:test";
import { app } from "../src/app";
import { d1FailingOn } from "./broken-bindings";
import { buildRequest, call, captureLogs, env, freshIp, login, problem, register, superuser, type Registered } from "./helpers";

/** `GET /api/v1/admin/audit-logs`: the whole security log, filtered and paged, or exported as NDJSON. */

const PATH = "/api/v1/admin/audit-logs";
const NDJSON = "application/x-ndjson";

interface AuditEvent {
  id: string;
  action: string;
  user_id: string | null;
  actor_user_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  created_at: string;
  metadata: Record<string, unknown> | null;
}

interface Page {
  events: AuditEvent[];
  next_cursor: string | null;
}

async function page(admin: Registered, query: Record<string, string>): Promise<Page> {
  const res = await call(`${PATH}?${new URLSearchParams(query).toString()}`, { token: admin.accessToken });
  const body = await res.json<Page>();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** The body as text (workerd warns on `.text()` of a media type it does not know as text). */
async function ndjsonText(res: Response): Promise<string> {
  return new TextDecoder().decode(await res.arrayBuffer());
}

/** `count` rows of one made-up user, 1 ms apart from `start`, straight into D1. */
async function seed(userId: string, count: number, start: number, action = "test.seeded"): Promise<void> {
  const insert = env.DB.prepare("INSERT INTO audit_logs (id, user_id, action, ip_address, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  const rows = Array.from({ length: count }, (_, i) =>
    insert.bind(crypto.randomUUID(), userId, action, "192.0.2.7", JSON.stringify({ n: i }), start + i),
  );
  for (let i = 0; i < rows.length; i += 100) await env.DB.batch(rows.slice(i, i + 100));
}

describe("GET /api/v1/admin/audit-logs", () => {
  it("lists every row newest first, with what a user's own trail hides (failure reasons, the acting administrator)", async () => {
    const admin = await superuser();
    const user = await register();
    const ip = freshIp();
    expect((await login({ email: user.email, password: "wrong password here 42" }, ip)).status).toBe(401);
    await call("/api/v1/admin/unlock", { body: { email: user.email }, token: admin.accessToken, ip: freshIp() });

    const { events } = await page(admin, { user_id: user.userId });
    expect(events.map((e) => e.action)).toEqual(["account.unlocked", "login.failed", "user.registered"]);
    expect(events[0]).toMatchObject({ user_id: user.userId, actor_user_id: admin.userId });
    expect(events[0]!.ip_address).not.toBeNull();
    expect(events[1]).toMatchObject({
      ip_address: ip,
      actor_user_id: null,
      metadata: expect.objectContaining({ reason: "bad_password" }) as object,
    });
    expect(new Date(events[2]!.created_at).toISOString()).toBe(events[2]!.created_at);
  });

  it("filters by action, IP and time range, and combines them", async () => {
    const admin = await superuser();
    const userId = crypto.randomUUID();
    const start = Date.UTC(2026, 0, 1);
    await seed(userId, 5, start);
    await seed(userId, 2, start + 100, "test.other");

    expect((await page(admin, { user_id: userId, action: "test.other" })).events.map((e) => e.metadata)).toEqual([{ n: 1 }, { n: 0 }]);
    expect((await page(admin, { ip: "192.0.2.7", user_id: userId })).events).toHaveLength(7);
    expect((await page(admin, { ip: "192.0.2.8", user_id: userId })).events).toHaveLength(0);
    const window = await page(admin, {
      user_id: userId,
      since: new Date(start + 1).toISOString(),
      until: new Date(start + 4).toISOString().replace("Z", "+00:00"),
    });
    expect(window.events.map((e) => e.metadata)).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);
    expect((await page(admin, { action: "test.other", since: new Date(start + 101).toISOString(), user_id: userId })).events).toHaveLength(
      1,
    );
  });

  it("pages with a keyset cursor: every row once, in order, also among rows of the same millisecond", async () => {
    const admin = await superuser();
    const userId = crypto.randomUUID();
    const insert = env.DB.prepare("INSERT INTO audit_logs (id, user_id, action, created_at) VALUES (?, ?, 'test.same_time', ?)");
    await env.DB.batch(Array.from({ length: 7 }, () => insert.bind(crypto.randomUUID(), userId, Date.UTC(2026, 1, 1))));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const result: Page = await page(admin, { user_id: userId, limit: "3", ...(cursor ? { cursor } : {}) });
      expect(result.events.length).toBeLessThanOrEqual(3);
      seen.push(...result.events.map((e) => e.id));
      cursor = result.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it.each([
    [{ user_id: "not-a-uuid" }, "user_id"],
    [{ ip: "300.1.1.1" }, "ip"],
    [{ action: "DROP TABLE" }, "action"],
    [{ since: "yesterday" }, "since"],
    [{ since: "2026-02-01T00:00:00Z", until: "2026-01-01T00:00:00Z" }, "until"],
    [{ limit: "0" }, "limit"],
    [{ limit: "101" }, "limit"],
    [{ cursor: "bm90IGEgY3Vyc29y" }, "cursor"],
  ])("refuses %j with 422 naming %s", async (query, field) => {
    const admin = await superuser();
    const res = await call(`${PATH}?${new URLSearchParams(query).toString()}`, { token: admin.accessToken });
    const body = await problem(res, 422, "validation_failed");
    expect((body.errors as { field: string }[]).map((e) => e.field)).toContain(field);
  });

  it("is for superusers' access tokens only", async () => {
    const user = await register();
    await problem(await call(PATH, { token: user.accessToken }), 403, "forbidden");
    await problem(await call(PATH, { token: user.accessToken, headers: { Accept: NDJSON } }), 403, "forbidden");
    await problem(await call(PATH), 401, "authentication_required");
  });
});

describe("GET /api/v1/admin/audit-logs with Accept: application/x-ndjson", () => {
  it("streams every matching row across D1 chunks, newest first, each once, and audits the export", async () => {
    const admin = await superuser();
    const userId = crypto.randomUUID();
    const start = Date.UTC(2026, 2, 1);
    await seed(userId, 1_234, start);

    const res = await call(`${PATH}?user_id=${userId}&limit=5`, { token: admin.accessToken, headers: { Accept: NDJSON } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="gatehouse-audit-logs.ndjson"');
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await ndjsonText(res);
    expect(text.endsWith("\n")).toBe(true);
    const events = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditEvent);
    expect(events).toHaveLength(1_234);
    expect(new Set(events.map((e) => e.id)).size).toBe(1_234);
    expect(events.map((e) => (e.metadata as { n: number }).n)).toEqual(Array.from({ length: 1_234 }, (_, i) => 1_233 - i));
    expect(events[0]).toEqual({
      id: expect.any(String) as string,
      action: "test.seeded",
      user_id: userId,
      actor_user_id: null,
      ip_address: "192.0.2.7",
      user_agent: null,
      created_at: new Date(start + 1_233).toISOString(),
      metadata: { n: 1_233 },
    });

    const audit = await env.DB.prepare(
      "SELECT user_id, metadata FROM audit_logs WHERE actor_user_id = ? AND action = 'admin.audit_exported'",
    )
      .bind(admin.userId)
      .all<{ user_id: string | null; metadata: string }>();
    expect(audit.results.map((r) => ({ user_id: r.user_id, metadata: JSON.parse(r.metadata) as unknown }))).toEqual([
      { user_id: null, metadata: { filters: { user_id: userId } } },
    ]);
  });

  it("applies the same filters and starts after a cursor; an export of nothing is an empty body", async () => {
    const admin = await superuser();
    const userId = crypto.randomUUID();
    await seed(userId, 6, Date.UTC(2026, 3, 1));
    const first = await page(admin, { user_id: userId, limit: "2" });
    const res = await call(
      `${PATH}?user_id=${userId}&cursor=${first.next_cursor}&since=${new Date(Date.UTC(2026, 3, 1, 0, 0, 0, 1)).toISOString()}`,
      {
        token: admin.accessToken,
        headers: { Accept: `${NDJSON}, application/json;q=0.5` },
      },
    );
    const lines = (await ndjsonText(res)).trimEnd().split("\n");
    expect(lines.map((line) => (JSON.parse(line) as AuditEvent).metadata)).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);

    const empty = await call(`${PATH}?user_id=${crypto.randomUUID()}`, { token: admin.accessToken, headers: { Accept: NDJSON } });
    expect(empty.status).toBe(200);
    expect(await ndjsonText(empty)).toBe("");
  });

  it("aborts the transfer, never ends it cleanly, when D1 fails midway, and logs it", async () => {
    const admin = await superuser();
    const userId = crypto.randomUUID();
    await seed(userId, 600, Date.UTC(2026, 4, 1));
    const logs = captureLogs();
    // The first chunk (500 rows, no position yet) reads; the next one, after a position, fails.
    const DB = d1FailingOn(/"audit_logs"\."created_at" < \?/);
    const request = buildRequest(`${PATH}?user_id=${userId}`, { token: admin.accessToken, headers: { Accept: NDJSON } });
    // Straight to the app: call() would read the body for its contract check and fail there.
    const res = await app.fetch(request, { ...env, DB }, createExecutionContext());
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(logs.problems().map((line) => line.event)).toContain("audit.export_failed");
  });
});
