import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, makeTempDir, removeDir, startDev, waitUntilHealthy } from "./dev-server.mjs";
import { type Receiver, startReceiver } from "./webhook-receiver.mjs";

/** Issue #15's "done when": under `npm run dev`, an event reaches a loopback receiver through the local queue. */

const SECRET = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;

describe("events under npm run dev, end to end", () => {
  let server: DevServer | undefined;
  let receiver: Receiver | undefined;
  const persistDir = makeTempDir("gatehouse-webhooks-test-");

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    removeDir(persistDir);
  }, 30_000);

  it("registration → outbox → local queue → consumer → a signed POST to the receiver", async () => {
    receiver = await startReceiver();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const dev = startDev([
      "--port",
      String(port),
      "--persist-to",
      persistDir,
      "--var",
      `WEBHOOK_URL:${receiver.url}`,
      "--var",
      `WEBHOOK_SECRET:${SECRET}`,
    ]);
    server = dev;
    await waitUntilHealthy(base, dev);

    const registered = await fetch(`${base}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json", "CF-Connecting-IP": "203.0.113.10" },
      body: JSON.stringify({ email: "hook@example.com", password: "correct horse battery staple 42", full_name: "Hook" }),
    });
    expect(registered.status, await registered.clone().text()).toBe(201);
    const { user } = await registered.json<{ user: { id: string } }>();

    // Bounded: the local queue hands the batch over after its timeout (1 s); no polling, no fixed sleep.
    let timer: ReturnType<typeof setTimeout> | null = null;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no webhook within 30 s; output:\n${dev.output()}`)), 30_000);
    });
    const delivery = await Promise.race([receiver.next(), timeout]).finally(() => timer !== null && clearTimeout(timer));
    const event = new Webhook(SECRET).verify(delivery.body, delivery.headers) as { type: string; data: Record<string, unknown> };
    expect(event).toMatchObject({ type: "user.created", data: { user_id: user.id, email: "hook@example.com" } });
    expect(delivery.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
  }, 120_000);
});
