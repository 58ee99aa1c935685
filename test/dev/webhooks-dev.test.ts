import { Webhook } from "standardwebhooks";
import { describe, expect, inject, it } from "vitest";
import { tailOf } from "../node/dev-server.mjs";
import { devPost, uniqueDevEmail } from "./shared-server";

/**
 * Under `npm run dev` (the shared server of `npm run test:dev`, whose WEBHOOK_URL names a loopback
 * receiver), an event goes all the way: registration → outbox → local queue → consumer → a signed POST.
 */
describe("events under npm run dev, end to end", () => {
  it("registration → outbox → local queue → consumer → a signed POST to the receiver", async () => {
    const { logFile } = inject("devServer");
    const webhooks = inject("webhooks");
    const email = uniqueDevEmail("hook");
    const registered = await devPost("/api/v1/auth/register", { email, password: "correct horse battery staple 42", full_name: "Hook" });
    expect(registered.status, await registered.clone().text()).toBe(201);
    const { user } = await registered.json<{ user: { id: string } }>();

    // The receiver answers as soon as this user's user.created arrives (the local queue hands a batch
    // over after its 1 s timeout), or with 504 after 30 s. Other tests' events reach it too: matched by
    // this user's id.
    const query = new URLSearchParams([
      ["contains", user.id],
      ["contains", "user.created"],
      ["timeout_ms", "30000"],
    ]);
    const waited = await fetch(`${webhooks.waitUrl}?${query.toString()}`);
    expect(waited.status, `no webhook for ${user.id} within 30 s; server output:\n${tailOf(logFile)}`).toBe(200);
    const delivery = await waited.json<{ headers: Record<string, string>; body: string }>();
    const event = new Webhook(webhooks.secret).verify(delivery.body, delivery.headers) as { type: string; data: Record<string, unknown> };
    expect(event).toMatchObject({ type: "user.created", data: { user_id: user.id, email } });
    expect(delivery.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
  });
});
