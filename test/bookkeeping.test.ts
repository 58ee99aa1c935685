import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../src/config";
import { app } from "../src/app";
import { buildRequest, call, captureLogs, login, problem, register } from "./helpers";

/**
 * Bookkeeping (audit rows, outbox rows) rides in the same D1 batch as the change it
 * records, so it costs no round trip of its own and cannot be lost when the request ends before its
 * after-response work runs: only the queue hand-off happens then, and the cron re-drives rows that
 * never reached the queue (test/events.test.ts).
 */

const WEBHOOKS = {
  WEBHOOK_URL: "https://hooks.example.com/gatehouse",
  WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
};

/** A queue producer that never answers: the request's after-response hand-off never completes. */
const stuckQueue = { send: () => new Promise(() => undefined), sendBatch: () => new Promise(() => undefined) } as unknown as Queue;

/**
 * Sends a request and returns its response without ever waiting for its `waitUntil` work: as if
 * the isolate went away right after answering.
 */
async function endEarly(path: string, options: Parameters<typeof buildRequest>[1], extra: Partial<Bindings>): Promise<Response> {
  return app.fetch(buildRequest(path, options), { ...env, ...extra }, createExecutionContext());
}

async function rowsOf(userId: string) {
  const audit = await env.DB.prepare("SELECT action, metadata FROM audit_logs WHERE user_id = ? ORDER BY created_at, rowid")
    .bind(userId)
    .all<{ action: string; metadata: string | null }>();
  const events = await env.DB.prepare("SELECT type, queued_at FROM webhook_events WHERE json_extract(payload, '$.data.user_id') = ?")
    .bind(userId)
    .all<{ type: string; queued_at: number | null }>();
  return { audit: audit.results, events: events.results };
}

describe("bookkeeping off the critical path, never lost", () => {
  it("a logout's audit row and session.revoked event exist although its after-response work never ran", async () => {
    const user = await register();
    const res = await endEarly("/api/v1/auth/logout", { method: "POST", token: user.accessToken }, { ...WEBHOOKS, WEBHOOKS: stuckQueue });
    expect(res.status).toBe(204);
    const { audit, events } = await rowsOf(user.userId);
    expect(audit.map((r) => r.action)).toContain("logout");
    // Written with the revocation, not yet queued: the cron's re-drive picks it up.
    expect(events).toEqual([{ type: "session.revoked", queued_at: null }]);
    await problem(await call("/api/v1/users/me", { token: user.accessToken }), 401, "token_revoked");
  });

  it("logout-all counts the sessions it revoked in its audit row, in the same batch", async () => {
    const user = await register();
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    const res = await endEarly(
      "/api/v1/auth/logout?scope=all",
      { method: "POST", token: user.accessToken },
      { ...WEBHOOKS, WEBHOOKS: stuckQueue },
    );
    expect(res.status).toBe(204);
    const { audit, events } = await rowsOf(user.userId);
    const row = audit.find((r) => r.action === "logout.all");
    expect(JSON.parse(row!.metadata!)).toEqual({ sessions_revoked: 2 });
    expect(events.map((e) => e.type)).toEqual(["session.revoked"]);
  });

  it("a logout whose batch fails changes nothing and records nothing", async () => {
    const user = await register();
    const logs = captureLogs();
    const lossy: D1Database = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") return () => Promise.reject(new Error("Network connection lost."));
        if (prop === "withSession") return () => lossy;
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    await problem(
      await call("/api/v1/auth/logout", { method: "POST", token: user.accessToken, env: { DB: lossy } }),
      503,
      "service_unavailable",
    );
    expect(logs.problems().map((l) => l.event)).toEqual(["dependency.unavailable"]);
    expect((await rowsOf(user.userId)).audit.map((r) => r.action)).not.toContain("logout");
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(200);
  });
});

describe("Gatehouse-Bookmark (D1 Sessions API)", () => {
  it("a response that wrote carries a bookmark; sending it back (or junk) still reads", async () => {
    const user = await register();
    const put = await call("/api/v1/users/me", { method: "PUT", token: user.accessToken, body: { full_name: "Renamed" } });
    expect(put.status).toBe(200);
    const bookmark = put.headers.get("gatehouse-bookmark");
    expect(bookmark).toMatch(/^[\w.:-]{1,128}$/);
    for (const sent of [bookmark!, "not a bookmark!", "0000abc-junk"]) {
      const me = await call("/api/v1/users/me", { token: user.accessToken, headers: { "Gatehouse-Bookmark": sent } });
      expect(await me.json()).toMatchObject({ full_name: "Renamed" });
    }
    // A read-only request has nothing new for the client to carry.
    expect((await call("/api/v1/users/me", { token: user.accessToken })).headers.get("gatehouse-bookmark")).toBeNull();
  });

  it("is named in the OpenAPI document", async () => {
    const doc = await (
      await call("/openapi.json")
    ).json<{ info: { description: string }; components: Record<string, Record<string, unknown>> }>();
    expect(doc.info.description).toContain("Gatehouse-Bookmark");
    expect(doc.components.headers).toHaveProperty("Gatehouse-Bookmark");
    expect(doc.components.parameters).toHaveProperty("bookmark");
  });
});

describe("API-key bookkeeping", () => {
  it("a use from a new client writes its audit row in the same batch as the key's last-used stamp", async () => {
    const user = await register();
    const created = await call("/api/v1/users/me/api-keys", { token: user.accessToken, body: { name: "stamp" } });
    const key = await created.json<{ id: string; api_key: string }>();
    const ip = "198.51.100.77";
    expect((await call("/api/v1/users/me", { token: key.api_key, ip, headers: { "User-Agent": "bookkeeping-test" } })).status).toBe(200);
    const row = await env.DB.prepare(
      "SELECT user_id, action, resource, ip_address, user_agent, metadata FROM audit_logs WHERE user_id = ? AND action = 'api_key.used_new_ip'",
    )
      .bind(user.userId)
      .first<Record<string, string>>();
    expect(row).toMatchObject({ user_id: user.userId, resource: `api_key:${key.id}`, ip_address: ip, user_agent: "bookkeeping-test" });
    expect(JSON.parse(row!.metadata!)).toEqual({ api_key_id: key.id, name: "stamp", previous_ip: null });
    const stamp = await env.DB.prepare("SELECT last_used_ip FROM api_keys WHERE id = ?").bind(key.id).first<{ last_used_ip: string }>();
    expect(stamp?.last_used_ip).toBe(ip);
  });
});
