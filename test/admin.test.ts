import { describe, expect, it } from "vitest";
import { call, env, freshIp, login, problem, register, superuser } from "./helpers";

/** Operator actions: a superuser lifts a lockout (the "administrator unlocks it" of the lockout tiers). */

const WRONG = "definitely not it 42";

describe("POST /api/v1/admin/unlock", () => {
  it("lifts a lock so the owner can log in again, and audits it", async () => {
    const admin = await superuser();
    const user = await register();
    for (let i = 0; i < 5; i++) await login({ email: user.email, password: WRONG });
    await problem(await login({ email: user.email, password: user.password }), 423, "account_locked");

    const res = await call("/api/v1/admin/unlock", { body: { email: user.email.toUpperCase() }, token: admin.accessToken, ip: freshIp() });
    expect(res.status).toBe(204);
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    const row = await env.DB.prepare("SELECT metadata, actor_user_id FROM audit_logs WHERE user_id = ? AND action = 'account.unlocked'")
      .bind(user.userId)
      .first<{ metadata: string; actor_user_id: string }>();
    expect(JSON.parse(row?.metadata ?? "{}")).toEqual({ reason: "admin", was_locked: true });
    expect(row?.actor_user_id).toBe(admin.userId);
  });

  it("records a no-op unlock too, and the owner's log says 'an administrator' without the operator's IP", async () => {
    const admin = await superuser();
    const user = await register();
    const adminIp = freshIp();
    const res = await call("/api/v1/admin/unlock", { body: { email: user.email }, token: admin.accessToken, ip: adminIp });
    expect(res.status).toBe(204);
    const page = await (
      await call("/api/v1/users/me/security-events", { token: user.accessToken })
    ).json<{
      events: { action: string; ip_address: string | null; user_agent: string | null; metadata: Record<string, unknown> }[];
    }>();
    const unlock = page.events.find((e) => e.action === "account.unlocked");
    expect(unlock).toEqual(expect.objectContaining({ ip_address: null, user_agent: null }));
    expect(unlock?.metadata).toEqual({ reason: "admin", was_locked: false, actor: "administrator" });
    expect(JSON.stringify(page)).not.toContain(adminIp);
    expect(JSON.stringify(page)).not.toContain(admin.userId);
  });

  it("is for superusers only, and 404 for an unknown account", async () => {
    const user = await register();
    await problem(await call("/api/v1/admin/unlock", { body: { email: user.email }, token: user.accessToken }), 403, "forbidden");
    await problem(await call("/api/v1/admin/unlock", { body: { email: user.email } }), 401, "authentication_required");
    const admin = await superuser();
    await problem(
      await call("/api/v1/admin/unlock", { body: { email: "nobody-here@example.com" }, token: admin.accessToken }),
      404,
      "not_found",
    );
    await problem(await call("/api/v1/admin/unlock", { body: {}, token: admin.accessToken }), 422, "validation_failed");
  });
});
