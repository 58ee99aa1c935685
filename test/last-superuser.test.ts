import { describe, expect, it } from "vitest";
import { auditRows, call, env, login, onlySuperusers, problem, register, superuser, userRow, type Registered } from "./helpers";
import { Browser, textOf } from "./pages-browser";

/**
 * This file runs on its own, after every other workers file (the `workers-global` project in
 * vitest.config.ts): the rule is global, so each check makes its users the only superusers for a
 * moment, and an administrator in a file running beside it would be refused meanwhile.
 *
 * The last active superuser stays: deleting, deactivating or demoting the last one is 409
 * `last_superuser`, decided inside the change's own batch, so two administrators acting on each
 * other at the same moment cannot both succeed.
 */

const ADMIN = "/api/v1/admin";

const deleteMe = (user: Registered) =>
  call("/api/v1/users/me", { method: "DELETE", token: user.accessToken, body: { password: user.password } });
const deactivate = (actor: Registered, target: Registered) =>
  call(`${ADMIN}/users/${target.userId}/deactivate`, { method: "POST", token: actor.accessToken });
const demote = (actor: Registered, target: Registered) =>
  call(`${ADMIN}/users/${target.userId}/superuser`, { method: "DELETE", token: actor.accessToken });

async function activeSuperusers(...ids: string[]): Promise<string[]> {
  const { results } = await env.DB.prepare(
    `SELECT id FROM users WHERE is_superuser = 1 AND is_active = 1 AND deleted_at IS NULL AND id IN (${ids.map(() => "?").join(",")})`,
  )
    .bind(...ids)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** A browser signed in on the hosted pages as `user`. */
async function signedIn(user: Registered): Promise<Browser> {
  const browser = new Browser();
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  return browser;
}

/** The statuses of parallel responses, sorted. */
const statuses = (responses: Response[]) => responses.map((r) => r.status).sort();

describe("the last active superuser", () => {
  it("cannot delete their own account (409 last_superuser); the account stays and keeps working", async () => {
    const admin = await superuser();
    const restore = await onlySuperusers(admin.userId);
    try {
      const body = await problem(await deleteMe(admin), 409, "last_superuser");
      expect(String(body.detail)).toContain("last active superuser");
      expect((await call("/api/v1/users/me", { token: admin.accessToken })).status).toBe(200);
      expect((await login({ email: admin.email, password: admin.password })).status).toBe(200);
      expect(await auditRows("user_id = ? AND action = 'user.deleted'", admin.userId)).toEqual([]);
    } finally {
      await restore();
    }
  });

  it("of two superusers deleting their accounts at the same moment, exactly one goes", async () => {
    const [a, b] = [await superuser(), await superuser()];
    const restore = await onlySuperusers(a.userId, b.userId);
    try {
      const responses = await Promise.all([deleteMe(a), deleteMe(b)]);
      expect(statuses(responses)).toEqual([204, 409]);
      await problem(
        responses.find((r) => r.status === 409)!,
        409,
        "last_superuser",
      );
      expect(await activeSuperusers(a.userId, b.userId)).toHaveLength(1);
    } finally {
      await restore();
    }
  });

  it("of two superusers deactivating each other at the same moment, exactly one succeeds", async () => {
    const [a, b] = [await superuser(), await superuser()];
    const restore = await onlySuperusers(a.userId, b.userId);
    try {
      const responses = await Promise.all([deactivate(a, b), deactivate(b, a)]);
      expect(statuses(responses)).toEqual([204, 409]);
      await problem(
        responses.find((r) => r.status === 409)!,
        409,
        "last_superuser",
      );
      expect(await activeSuperusers(a.userId, b.userId)).toHaveLength(1);
      // Only the change that happened is audited.
      expect(await auditRows("user_id IN (?, ?) AND action = 'user.deactivated'", a.userId, b.userId)).toHaveLength(1);
    } finally {
      await restore();
    }
  });

  it("of two superusers demoting each other at the same moment, exactly one succeeds", async () => {
    const [a, b] = [await superuser(), await superuser()];
    const restore = await onlySuperusers(a.userId, b.userId);
    try {
      const responses = await Promise.all([demote(a, b), demote(b, a)]);
      expect(statuses(responses)).toEqual([204, 409]);
      await problem(
        responses.find((r) => r.status === 409)!,
        409,
        "last_superuser",
      );
      expect(await activeSuperusers(a.userId, b.userId)).toHaveLength(1);
      expect(await auditRows("user_id IN (?, ?) AND action = 'admin.superuser_revoked'", a.userId, b.userId)).toHaveLength(1);
    } finally {
      await restore();
    }
  });

  it("of a deletion and a deactivation of the last two at the same moment, exactly one happens", async () => {
    const [a, b] = [await superuser(), await superuser()];
    const restore = await onlySuperusers(a.userId, b.userId);
    try {
      const responses = await Promise.all([deleteMe(a), deactivate(a, b)]);
      expect(statuses(responses)).toEqual([204, 409]);
      expect(await activeSuperusers(a.userId, b.userId)).toHaveLength(1);
    } finally {
      await restore();
    }
  });

  it("does not stop a superuser who is not the last from deleting their account", async () => {
    const [a, b] = [await superuser(), await superuser()];
    const restore = await onlySuperusers(a.userId, b.userId);
    try {
      expect((await deleteMe(a)).status).toBe(204);
      expect(await activeSuperusers(a.userId, b.userId)).toEqual([b.userId]);
    } finally {
      await restore();
    }
  });

  it("cannot be demoted or deactivated through the admin API (409 last_superuser)", async () => {
    const admin = await superuser();
    const restore = await onlySuperusers(admin.userId);
    try {
      await problem(await demote(admin, admin), 409, "last_superuser");
      await problem(await deactivate(admin, admin), 409, "last_superuser");
      expect(await activeSuperusers(admin.userId)).toEqual([admin.userId]);
    } finally {
      await restore();
    }
  });

  it("cannot be demoted or deactivated on the admin console, which says why", async () => {
    const admin = await superuser();
    const browser = await signedIn(admin);
    const page = await browser.open(`/admin/users/${admin.userId}`);
    const restore = await onlySuperusers(admin.userId);
    try {
      let res = await browser.submit(page, `/admin/users/${admin.userId}/superuser`, {}, 'value="revoke"');
      expect(res.status).toBe(409);
      const html = await res.text();
      expect(textOf(html)).toContain("This is the last active superuser");
      expect(html).toContain('role="alert"');
      res = await browser.submit(page, `/admin/users/${admin.userId}/deactivate`);
      expect(res.status).toBe(409);
      expect(await activeSuperusers(admin.userId)).toEqual([admin.userId]);
    } finally {
      await restore();
    }
  });

  it("refuses to delete the last active superuser's account, saying why beside the form", async () => {
    const user = await register();
    const browser = await signedIn(user);
    const restore = await onlySuperusers(user.userId);
    try {
      const page = await browser.open("/account");
      const res = await browser.submit(page, "/account/delete", { password: user.password });
      expect(res.status).toBe(409);
      const html = await res.text();
      const section = html.slice(html.indexOf('<section id="delete"'));
      expect(section).toContain('role="alert"');
      expect(textOf(section)).toContain("This is the last active superuser: make someone else a superuser first.");
      expect((await userRow(user.email))!.deleted_at).toBeNull();
      expect(browser.jar.has("__Host-gh_rt")).toBe(true);
    } finally {
      await restore();
    }
  });
});
