import { describe, expect, it } from "vitest";
import { call, env, problem, register, superuser, userRow } from "./helpers";
import { Browser, textOf } from "./pages-browser";

/** The webhook delivery log and manual redelivery for administrators. */

const WEBHOOKS = {
  WEBHOOK_URL: "https://hooks.example.com/gatehouse",
  WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
};

/** A queue binding that records what is sent, so no consumer runs in the test. */
function recordingQueue(): { queue: Queue; sent: unknown[] } {
  const sent: unknown[] = [];
  const queue = {
    send: (body: unknown) => Promise.resolve(void sent.push(body)),
    sendBatch: (messages: { body: unknown }[]) => Promise.resolve(void sent.push(...messages.map((m) => m.body))),
  } as unknown as Queue;
  return { queue, sent };
}

interface Delivery {
  id: string;
  type: string;
  delivered_at: string | null;
  attempts: number;
}

describe("admin webhook delivery log", () => {
  it("lists deliveries newest first, filters, and redelivers one with the same id", async () => {
    const admin = await superuser();
    const { queue, sent } = recordingQueue();
    const res = await call("/api/v1/auth/register", {
      body: { email: `hook.${Date.now()}@example.com`, password: "correct horse battery staple 42", full_name: "Hook" },
      env: { ...WEBHOOKS, WEBHOOKS: queue },
    });
    expect(res.status).toBe(201);
    const userId = (await res.json<{ user: { id: string } }>()).user.id;
    const row = await env.DB.prepare("SELECT id FROM webhook_events WHERE type = 'user.created' AND payload LIKE ?")
      .bind(`%${userId}%`)
      .first<{ id: string }>();
    expect(row).not.toBeNull();
    await env.DB.prepare("UPDATE webhook_events SET delivered_at = ?, attempts = 1, last_status = 200 WHERE id = ?")
      .bind(Date.now(), row!.id)
      .run();

    const log = await call("/api/v1/admin/webhook-events?status=delivered&type=user.created&limit=100", { token: admin.accessToken });
    expect(log.status).toBe(200);
    const events = (await log.json<{ events: Delivery[] }>()).events;
    expect(events.find((e) => e.id === row!.id)).toMatchObject({ type: "user.created", attempts: 1 });

    const again = await call(`/api/v1/admin/webhook-events/${row!.id}/redeliver`, {
      method: "POST",
      token: admin.accessToken,
      env: { ...WEBHOOKS, WEBHOOKS: queue },
    });
    expect(again.status).toBe(202);
    expect(sent).toContainEqual({ id: row!.id });
    const after = await env.DB.prepare("SELECT delivered_at FROM webhook_events WHERE id = ?")
      .bind(row!.id)
      .first<{ delivered_at: number | null }>();
    expect(after?.delivered_at).toBeNull();
    const audit = await env.DB.prepare("SELECT actor_user_id FROM audit_logs WHERE action = 'admin.webhook_redelivered' AND resource = ?")
      .bind(`webhook_event:${row!.id}`)
      .first<{ actor_user_id: string }>();
    expect(audit?.actor_user_id).toBe(admin.userId);
  });

  it("is for superusers, 404 for an unknown event, 422 for a bad filter", async () => {
    const user = await register();
    await problem(await call("/api/v1/admin/webhook-events", { token: user.accessToken }), 403, "forbidden");
    const admin = await superuser();
    await problem(
      await call("/api/v1/admin/webhook-events/msg_nope/redeliver", { method: "POST", token: admin.accessToken }),
      404,
      "not_found",
    );
    await problem(await call("/api/v1/admin/webhook-events?status=lost", { token: admin.accessToken }), 422, "validation_failed");
  });
});

describe("/admin/webhooks console page", () => {
  it("shows the delivery log to a signed-in superuser and delivers an event again from a form", async () => {
    const { queue, sent } = recordingQueue();
    const res = await call("/api/v1/auth/register", {
      body: { email: `hookpage.${Date.now()}@example.com`, password: "correct horse battery staple 42", full_name: "Hook" },
      env: { ...WEBHOOKS, WEBHOOKS: queue },
    });
    const userId = (await res.json<{ user: { id: string } }>()).user.id;
    const row = await env.DB.prepare("SELECT id FROM webhook_events WHERE payload LIKE ?").bind(`%${userId}%`).first<{ id: string }>();
    await env.DB.prepare("UPDATE webhook_events SET delivered_at = ? WHERE id = ?").bind(Date.now(), row!.id).run();

    const admin = await superuser();
    const browser = new Browser({ WEBHOOKS: queue });
    const signIn = await browser.submit(await browser.open("/login"), "/login", { identifier: admin.email, password: admin.password });
    expect(signIn.status).toBe(303);
    const page = await browser.open("/admin/webhooks?status=delivered");
    expect(textOf(page)).toContain(row!.id);
    const done = await browser.submit(page, `/admin/webhooks/${row!.id}/redeliver`);
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/admin/webhooks?notice=webhook_redelivered");
    expect(sent).toContainEqual({ id: row!.id });
    const after = await env.DB.prepare("SELECT delivered_at FROM webhook_events WHERE id = ?")
      .bind(row!.id)
      .first<{ delivered_at: number | null }>();
    expect(after?.delivered_at).toBeNull();

    const plain = await register();
    const stranger = new Browser();
    await stranger.submit(await stranger.open("/login"), "/login", { identifier: plain.email, password: plain.password });
    expect((await stranger.get("/admin/webhooks")).status).toBe(403);
    expect((await userRow(plain.email))?.is_superuser).toBe(0);
  });
});
