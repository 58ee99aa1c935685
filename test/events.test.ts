import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { ConfigError, readConfig, type Bindings } from "../src/config";
import { commitCredentialChange } from "../src/db/credentials";
import { createDb } from "../src/db/client";
import { createDeps, type Deps } from "../src/kernel/deps";
import { deliverBatch, retryDelaySeconds } from "../src/events/delivery";
import { eventRows, type WebhookMessage } from "../src/events/events";
import { redriveEvents } from "../src/events/redrive";
import { call, captureLogs, env, freshIp, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";

/** Events: the outbox, the queue hand-off and the consumer's delivery. */

const RECEIVER = "https://hooks.example.com/gatehouse";
const SECRET = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;
const OLD_SECRET = `whsec_${btoa("fedcba9876543210fedcba9876543210")}`;

/** A stand-in for the WEBHOOKS producer: records the ids a request sends. */
function fakeQueue(): { queue: Queue; sent: string[] } {
  const sent: string[] = [];
  const queue = {
    send: (body: WebhookMessage) => Promise.resolve(void sent.push(body.id)),
    sendBatch: (messages: Iterable<MessageSendRequest<WebhookMessage>>) => {
      for (const m of messages) sent.push(m.body.id);
      return Promise.resolve();
    },
  } as unknown as Queue;
  return { queue, sent };
}

function webhookEnv(extra: Partial<Bindings> = {}): Partial<Bindings> & { WEBHOOKS: Queue } {
  return { WEBHOOK_URL: RECEIVER, WEBHOOK_SECRET: SECRET, WEBHOOKS: fakeQueue().queue, ...extra };
}

interface EventRow {
  id: string;
  type: string;
  payload: string;
  endpoint_url: string;
  queued_at: number | null;
  delivered_at: number | null;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
}

async function eventsOf(userId: string): Promise<EventRow[]> {
  const { results } = await env.DB.prepare(
    "SELECT * FROM webhook_events WHERE json_extract(payload, '$.data.user_id') = ? ORDER BY created_at, rowid",
  )
    .bind(userId)
    .all<EventRow>();
  return results;
}

async function eventRow(id: string): Promise<EventRow | null> {
  return env.DB.prepare("SELECT * FROM webhook_events WHERE id = ?").bind(id).first<EventRow>();
}

/** A receiver: records each request and answers with the next status (or runs `respond`). */
function receiver(respond: (request: Request) => Promise<Response> | Response = () => new Response(null, { status: 204 })) {
  const requests: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const body = await request.clone().text();
    requests.push({ url: request.url, headers: Object.fromEntries(request.headers), body });
    return respond(request);
  }) as typeof globalThis.fetch;
  return { fetch, requests };
}

function consumerDeps(fetch: typeof globalThis.fetch, extra: Partial<Bindings> = {}): Deps {
  return createDeps(
    { ...env, ...webhookEnv(extra) },
    {
      meta: { ip: null, userAgent: null, requestId: "test" },
      waitUntil: () => undefined,
      fetch,
    },
  );
}

/** Writes one undelivered event row for a fresh (fake) user id and returns its id. */
async function seedEvent(extra: Partial<Bindings> = {}): Promise<string> {
  const deps = consumerDeps(globalThis.fetch, extra);
  const [row] = eventRows(deps, [{ type: "user.updated", data: { user_id: crypto.randomUUID(), fields: ["fullName"] } }]);
  if (!row) throw new Error("no endpoint");
  await env.DB.prepare("INSERT INTO webhook_events (id, endpoint_url, type, payload, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(row.id, row.endpointUrl, row.type, row.payload, row.createdAt.getTime())
    .run();
  return row.id;
}

async function consume(deps: Deps, messages: { id: string; attempts?: number }[]) {
  const batch = createMessageBatch<WebhookMessage>(
    "gatehouse-webhooks",
    messages.map((m, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: m.attempts ?? 1, body: { id: m.id } })),
  );
  // getQueueResult does not report a retry's delay: record what retry() was called with.
  const delays: (number | undefined)[] = [];
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    vi.spyOn(message, "retry").mockImplementation((options) => {
      delays.push(options?.delaySeconds);
      retry(options);
    });
  }
  const ctx = createExecutionContext();
  await deliverBatch(deps, batch);
  return { batch, delays, result: await getQueueResult(batch, ctx) };
}

describe("configuration", () => {
  it("takes WEBHOOK_URL with a whsec_ secret, the previous secret and an event filter", () => {
    const config = readConfig({
      ...env,
      ...webhookEnv({ WEBHOOK_SECRET_PREVIOUS: OLD_SECRET, WEBHOOK_EVENTS: "user.created, security.alert" }),
    });
    expect(config.webhookEndpoints).toHaveLength(1);
    expect(config.webhookEndpoints[0]).toMatchObject({ url: RECEIVER, events: ["user.created", "security.alert"] });
    expect(config.webhookEndpoints[0]?.keys).toHaveLength(2);
    expect(readConfig(env).webhookEndpoints).toEqual([]);
  });

  it.each([
    ["a secret without whsec_", { WEBHOOK_SECRET: "0123456789abcdef0123456789abcdef" }],
    ["a short secret", { WEBHOOK_SECRET: `whsec_${btoa("short")}` }],
    ["a URL without a secret", { WEBHOOK_SECRET: undefined }],
    ["a URL with credentials", { WEBHOOK_URL: "https://user:pw@hooks.example.com/" }],
    ["an unknown event type", { WEBHOOK_EVENTS: "user.created,user.exploded" }],
    ["endpoints that are not JSON", { WEBHOOK_ENDPOINTS: "[{" }],
    ["an endpoint listed twice", { WEBHOOK_ENDPOINTS: JSON.stringify([{ url: RECEIVER, secret: SECRET }]) }],
  ])("refuses %s", (_, extra) => {
    expect(() => readConfig({ ...env, ...webhookEnv(extra) })).toThrow(ConfigError);
  });

  it("adds the endpoints of WEBHOOK_ENDPOINTS, each with its own filter", () => {
    const more = [{ url: "https://other.example.com/hook", secret: OLD_SECRET, events: ["user.deleted"] }];
    const config = readConfig({ ...env, ...webhookEnv({ WEBHOOK_ENDPOINTS: JSON.stringify(more) }) });
    expect(config.webhookEndpoints.map((e) => [e.url, e.events])).toEqual([
      [RECEIVER, null],
      ["https://other.example.com/hook", ["user.deleted"]],
    ]);
  });
});

describe("the outbox", () => {
  it("writes and queues user.created with the registration, without secrets, and does not POST during the request", async () => {
    const { queue, sent } = fakeQueue();
    const delivered = receiver();
    const email = uniqueEmail("events");
    const res = await call("/api/v1/auth/register", {
      body: { email, password: STRONG_PASSWORD, full_name: "Ev Ent" },
      ip: freshIp(),
      env: webhookEnv({ WEBHOOKS: queue }),
    });
    expect(res.status).toBe(201);
    const { user } = await res.json<{ user: { id: string } }>();
    const [row, ...rest] = await eventsOf(user.id);
    expect(rest).toEqual([]);
    expect(row).toMatchObject({ type: "user.created", endpoint_url: RECEIVER, attempts: 0, delivered_at: null });
    expect(sent).toEqual([row?.id]);
    expect(row?.queued_at).toEqual(expect.any(Number));
    const body = JSON.parse(row?.payload ?? "{}") as Record<string, unknown>;
    expect(body).toEqual({
      type: "user.created",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string,
      data: { user_id: user.id, email, username: null, email_verified: false },
    });
    expect(row?.payload).not.toContain(STRONG_PASSWORD);
    // The request only put the id on the queue; delivery (and any slow receiver) is the consumer's.
    expect(delivered.requests).toEqual([]);
  });

  it("writes nothing without an endpoint, and only the filtered types with one", async () => {
    const plain = await register();
    expect(await eventsOf(plain.userId)).toEqual([]);

    const { queue, sent } = fakeQueue();
    const filtered = webhookEnv({ WEBHOOKS: queue, WEBHOOK_EVENTS: "session.revoked" });
    const res = await call("/api/v1/auth/register", {
      body: { email: uniqueEmail("filtered"), password: STRONG_PASSWORD, full_name: "Fil Tered" },
      ip: freshIp(),
      env: filtered,
    });
    const { user, access_token } = await res.json<{ user: { id: string }; access_token: string }>();
    expect(await eventsOf(user.id)).toEqual([]);
    await call("/api/v1/auth/logout?scope=all", { method: "POST", token: access_token, env: filtered });
    const rows = await eventsOf(user.id);
    expect(rows.map((r) => [r.type, (JSON.parse(r.payload) as { data: unknown }).data])).toEqual([
      ["session.revoked", { user_id: user.id, session_id: null, reason: "logout_all" }],
    ]);
    expect(sent).toEqual(rows.map((r) => r.id));
  });

  it("reports a profile edit and an account deletion", async () => {
    const user = await register();
    const hooks = webhookEnv();
    expect(
      (await call("/api/v1/users/me", { method: "PUT", body: { full_name: "New Name" }, token: user.accessToken, env: hooks })).status,
    ).toBe(200);
    const del = await call("/api/v1/users/me", {
      method: "DELETE",
      body: { password: user.password },
      token: user.accessToken,
      env: hooks,
    });
    expect(del.status).toBe(204);
    expect((await eventsOf(user.userId)).map((r) => [r.type, (JSON.parse(r.payload) as { data: unknown }).data])).toEqual([
      ["user.updated", { user_id: user.userId, fields: ["fullName"] }],
      ["user.deleted", { user_id: user.userId, reason: "deleted_by_user" }],
    ]);
  });

  it("writes a credential change and its event in one batch: a failed batch leaves neither", async () => {
    const user = await register();
    const db = createDb(env.DB);
    const deps = consumerDeps(globalThis.fetch);
    const taken = await seedEvent();
    const [row] = eventRows(deps, [{ type: "user.deactivated", data: { user_id: user.userId, reason: "test" } }]);
    if (!row) throw new Error("no row");
    // The event's id collides with an existing row, so the batch's last statement fails.
    const change = {
      userId: user.userId,
      now: new Date(),
      set: { fullName: "Half Done" },
      bumpEpoch: true,
      revokeSessionsReason: "test",
      revokeApiKeys: "none" as const,
    };
    await expect(commitCredentialChange(db, { ...change, events: [{ ...row, id: taken }] })).rejects.toThrow();
    const after = await env.DB.prepare("SELECT full_name FROM users WHERE id = ?").bind(user.userId).first<{ full_name: string }>();
    expect(after?.full_name).toBe("Test User");
    expect(await eventsOf(user.userId)).toEqual([]);
    const live = await call("/api/v1/users/me", { token: user.accessToken });
    expect(live.status).toBe(200);

    // A change that does not apply (the address moved) writes no event either.
    const lost = await commitCredentialChange(db, { ...change, whileEmail: "someone-else@example.com", events: [row] });
    expect(lost.user).toBeUndefined();
    expect(await eventsOf(user.userId)).toEqual([]);

    const applied = await commitCredentialChange(db, { ...change, now: new Date(Date.now() + 1), events: [row] });
    expect(applied.user?.fullName).toBe("Half Done");
    expect((await eventsOf(user.userId)).map((r) => r.id)).toEqual([row.id]);
  });
});

describe("the consumer", () => {
  it("POSTs a signed Standard Webhooks request, marks it delivered and acks", async () => {
    const id = await seedEvent();
    const hook = receiver();
    const { result } = await consume(consumerDeps(hook.fetch), [{ id }]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(hook.requests).toHaveLength(1);
    const [request] = hook.requests;
    if (!request) throw new Error("no request");
    expect(request.url).toBe(RECEIVER);
    expect(request.headers["webhook-id"]).toBe(id);
    expect(request.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const verified = new Webhook(SECRET).verify(request.body, request.headers) as { type: string };
    expect(verified.type).toBe("user.updated");
    expect(request.body).toBe((await eventRow(id))?.payload);
    expect(await eventRow(id)).toMatchObject({
      delivered_at: expect.any(Number) as number,
      attempts: 1,
      last_status: 204,
      last_error: null,
    });
  });

  it("signs with both secrets while one is rotated out: either verifies", async () => {
    const id = await seedEvent();
    const hook = receiver();
    await consume(consumerDeps(hook.fetch, { WEBHOOK_SECRET_PREVIOUS: OLD_SECRET }), [{ id }]);
    const [request] = hook.requests;
    if (!request) throw new Error("no request");
    expect(request.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(SECRET).verify(request.body, request.headers)).not.toThrow();
    expect(() => new Webhook(OLD_SECRET).verify(request.body, request.headers)).not.toThrow();
    expect(() => new Webhook(`whsec_${btoa("another secret of 32 bytes......")}`).verify(request.body, request.headers)).toThrow();
  });

  it("retries a 500 with exponential backoff and records the attempt; the DLQ takes it after the last", async () => {
    const logs = captureLogs();
    onTestFinished(() => expect(logs.problems().every((l) => l.event === "event.delivery_failed")).toBe(true));
    const id = await seedEvent();
    const hook = receiver(() => new Response("down", { status: 500 }));
    const deps = consumerDeps(hook.fetch);
    const first = await consume(deps, [{ id, attempts: 1 }]);
    expect(first.result.explicitAcks).toEqual([]);
    expect(first.result.retryMessages).toMatchObject([{ msgId: first.batch.messages[0]?.id }]);
    expect(first.delays).toEqual([retryDelaySeconds(1)]);
    const row = await eventRow(id);
    expect(row).toMatchObject({ delivered_at: null, attempts: 1, last_status: 500, last_error: "HTTP 500" });
    expect(row?.next_attempt_at).toBeGreaterThan(Date.now());

    const third = await consume(deps, [{ id, attempts: 3 }]);
    expect(third.delays).toEqual([retryDelaySeconds(3)]);
    expect([retryDelaySeconds(1), retryDelaySeconds(2), retryDelaySeconds(3), retryDelaySeconds(20)]).toEqual([15, 30, 60, 3600]);

    // The last attempt: the retry sends the message to the dead-letter queue; the cron leaves it alone.
    await consume(deps, [{ id, attempts: 11 }]);
    expect(await eventRow(id)).toMatchObject({ attempts: 3, last_error: "HTTP 500; dead-lettered", next_attempt_at: null });

    // A network error is a failed attempt too.
    const down = receiver(() => Promise.reject(new TypeError("connection refused")));
    const again = await seedEvent();
    const failed = await consume(consumerDeps(down.fetch), [{ id: again }]);
    expect(failed.result.retryMessages).toHaveLength(1);
    expect(await eventRow(again)).toMatchObject({ last_status: null, last_error: "network error" });
  });

  it("delivers a duplicated id once, and acks an already-delivered one without a POST", async () => {
    const id = await seedEvent();
    const hook = receiver();
    const deps = consumerDeps(hook.fetch);
    const { result } = await consume(deps, [{ id }, { id }]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(hook.requests).toHaveLength(1);
    const later = await consume(deps, [{ id, attempts: 2 }]);
    expect(later.result.explicitAcks).toHaveLength(1);
    expect(hook.requests).toHaveLength(1);
  });

  it("acks messages it cannot deliver anywhere: unknown ids, endpoints no longer configured", async () => {
    const logs = captureLogs();
    onTestFinished(() => expect(logs.problems().length).toBeGreaterThan(0));
    const hook = receiver();
    const id = await seedEvent();
    const gone = consumerDeps(hook.fetch, { WEBHOOK_URL: "https://elsewhere.example.com/hook" });
    const { result } = await consume(gone, [{ id }, { id: "msg_nonexistent" }]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(hook.requests).toEqual([]);
    expect(await eventRow(id)).toMatchObject({ delivered_at: null, last_error: "endpoint no longer configured", next_attempt_at: null });
  });
});

describe("the re-drive", () => {
  it("queues rows that never reached the queue after a minute, and overdue retries", async () => {
    const stranded = await seedEvent();
    const fresh = await seedEvent();
    const { queue, sent } = fakeQueue();
    const db = createDb(env.DB);
    await env.DB.prepare("UPDATE webhook_events SET created_at = created_at - 120000 WHERE id = ?").bind(stranded).run();
    await redriveEvents({ db, webhooks: queue, now: () => new Date() });
    expect(sent).toContain(stranded);
    expect(sent).not.toContain(fresh);
    expect((await eventRow(stranded))?.queued_at).toEqual(expect.any(Number));

    // Queued, then lost by the queue: overdue ten minutes after it was due.
    const later = new Date(Date.now() + 11 * 60_000);
    const again = fakeQueue();
    await redriveEvents({ db, webhooks: again.queue, now: () => later });
    expect(again.sent).toContain(stranded);
    expect(again.sent).toContain(fresh);
  });
});
