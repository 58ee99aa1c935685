import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import { auditRow } from "../src/audit/audit";
import { createDb } from "../src/db/client";
import { users } from "../src/db/schema";
import { UnitOfWork } from "../src/db/unit-of-work";
import { eventRows } from "../src/events/events";
import { readConfig } from "../src/config";
import { buildRequest, call, freshIp, problem, register } from "./helpers";

/**
 * The one write path (src/db/unit-of-work.ts): a change, its audit rows and its events are one D1
 * batch; audit lines are logged and events queued only once it committed; a fence that no longer
 * holds is a result, and then nothing at all is written.
 */

const WEBHOOKS = {
  WEBHOOK_URL: "https://hooks.example.com/gatehouse",
  WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
};

const stamp = { meta: { ip: null, userAgent: null, requestId: "test" }, now: () => new Date() };

function unitOfWork() {
  const done: { audit: string[]; events: string[] }[] = [];
  const work = new UnitOfWork(createDb(env.DB), {
    afterCommit: ({ audit, events }) => void done.push({ audit: audit.map((a) => a.action), events: events.map((e) => e.type) }),
  });
  return { work, done };
}

afterEach(() => vi.restoreAllMocks());

describe("a unit of work", () => {
  it("writes statements, audit rows and events in one batch, and reports them only after it committed", async () => {
    const user = await register();
    const { work, done } = unitOfWork();
    const config = readConfig({ ...env, ...WEBHOOKS });
    const db = createDb(env.DB);
    const updated = work.add(
      db
        .update(users)
        .set({ fullName: "Renamed" })
        .where(sql`${users.id} = ${user.userId}`)
        .returning(),
    );
    work.audit(auditRow(stamp, { action: "user.updated", userId: user.userId }));
    work.events(eventRows({ config, now: () => new Date() }, [{ type: "user.updated", data: { user_id: user.userId } }]));
    expect(done).toEqual([]);
    const committed = await work.commit();
    expect(committed.committed).toBe(true);
    if (committed.committed) expect(committed.result(updated)[0]?.fullName).toBe("Renamed");
    expect(done).toEqual([{ audit: ["user.updated"], events: ["user.updated"] }]);
  });

  it("a fence that no longer holds writes nothing and says so; nothing is logged or queued", async () => {
    const user = await register();
    const { work, done } = unitOfWork();
    const db = createDb(env.DB);
    work.fence(sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${user.userId} AND ${users.fullName} = 'Someone Else')`);
    work.add(
      db
        .update(users)
        .set({ fullName: "Should Not Stick" })
        .where(sql`${users.id} = ${user.userId}`),
    );
    work.audit(auditRow(stamp, { action: "user.updated", userId: user.userId }));
    expect(await work.commit()).toEqual({ committed: false, reason: "stale" });
    expect(done).toEqual([]);
    const row = await env.DB.prepare("SELECT full_name FROM users WHERE id = ?").bind(user.userId).first<{ full_name: string }>();
    expect(row?.full_name).toBe("Test User");
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_logs WHERE user_id = ? AND action = 'user.updated'")
      .bind(user.userId)
      .first<{ n: number }>();
    expect(audit?.n).toBe(0);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM batch_fences").first<{ n: number }>())?.n).toBe(0);
  });

  it("a batch that fails reports nothing", async () => {
    const user = await register();
    const { work, done } = unitOfWork();
    const db = createDb(env.DB);
    work.audit(auditRow(stamp, { action: "user.updated", userId: user.userId }));
    // The same primary key twice: the batch (one transaction) fails as a whole.
    work.add(
      db.insert(users).values({
        ...(await db
          .select()
          .from(users)
          .where(sql`${users.id} = ${user.userId}`)
          .get())!,
      }),
    );
    await expect(work.commit()).rejects.toThrow();
    expect(done).toEqual([]);
  });

  it("conditional rows are reported only when the batch wrote them", async () => {
    const user = await register();
    const { work, done } = unitOfWork();
    const config = readConfig({ ...env, ...WEBHOOKS });
    work.audit(auditRow(stamp, { action: "session.revoked", userId: user.userId }), { onlyIf: sql`0` });
    work.audit(auditRow(stamp, { action: "user.updated", userId: user.userId }), { onlyIf: sql`1` });
    work.events(eventRows({ config, now: () => new Date() }, [{ type: "session.revoked", data: { user_id: user.userId } }]), sql`0`);
    await work.commit();
    expect(done).toEqual([{ audit: ["user.updated"], events: [] }]);
  });
});

describe("refresh-token reuse", () => {
  it("ends the session and records the alert, its event and the audit row in one batch", async () => {
    const user = await register();
    const refresh = (token: string) => call("/api/v1/auth/refresh", { body: { refresh_token: token }, ip: freshIp(), env: WEBHOOKS });
    const rotated = await refresh(user.refreshToken);
    expect(rotated.status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 60_000);
    const batch = vi.spyOn(D1DatabaseSessionPrototype(), "batch");
    const ctx = createExecutionContext();
    const reused = await app.fetch(
      buildRequest("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken }, ip: freshIp() }),
      { ...env, ...WEBHOOKS },
      ctx,
    );
    await problem(reused, 401, "refresh_token_reused");
    // Two batches: the rotation attempt, which finds nothing to rotate and reads the retired token in
    // the same round trip (sessions/sessions.ts refreshSession); then the theft's writes, all in one.
    expect(batch).toHaveBeenCalledTimes(2);
    const rows = await env.DB.prepare("SELECT type FROM webhook_events WHERE json_extract(payload, '$.data.user_id') = ? ORDER BY type")
      .bind(user.userId)
      .all<{ type: string }>();
    expect(rows.results.map((r) => r.type)).toEqual(expect.arrayContaining(["security.alert", "session.revoked"]));
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_logs WHERE user_id = ? AND action = 'refresh_token.reused'")
      .bind(user.userId)
      .first<{ n: number }>();
    expect(audit?.n).toBe(1);
  });
});

/** The prototype of the D1 Sessions API session the worker's primary reads and writes go through. */
function D1DatabaseSessionPrototype(): { batch: (...args: unknown[]) => unknown } {
  return Object.getPrototypeOf(env.DB.withSession("first-primary")) as { batch: (...args: unknown[]) => unknown };
}
