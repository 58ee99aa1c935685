import { describe, expect, it } from "vitest";
import { deviceAfterPasswordChange } from "../src/devices/devices";
import { createDeps } from "../src/kernel/deps";
import { call, env, freshIp, login, outbox, problem, register, type Registered } from "./helpers";

/**
 * Device tokens. Strangers who know an address can no longer lock its owner out, spend
 * the owner's budgets, or void the owner's links; the owner's known device keeps working.
 */

const WRONG = "definitely not the password 3";
const NEW_PASSWORD = "a brand new passphrase 77";

interface SignIn {
  access_token: string;
  device_token: string;
}

function deviceOf(user: Registered): string {
  return user.body.device_token as string;
}

function loginWith(user: Registered, password: string, deviceToken?: string): Promise<Response> {
  return login({ email: user.email, password, ...(deviceToken ? { device_token: deviceToken } : {}) });
}

async function strangersLock(user: Registered, attempts = 5): Promise<void> {
  for (let i = 0; i < attempts; i++) await loginWith(user, WRONG);
}

async function devices(accessToken: string): Promise<{ id: string }[]> {
  const res = await call("/api/v1/users/me/devices", { token: accessToken });
  expect(res.status).toBe(200);
  return (await res.json<{ devices: { id: string }[] }>()).devices;
}

describe("device tokens", () => {
  it("registration and login hand one out; a known device gets the same token back", async () => {
    const user = await register();
    expect(deviceOf(user)).toMatch(/^gd1\.[0-9a-f-]{36}\.\d{13}\.[A-Za-z0-9_-]{43}$/);
    const again = await (await loginWith(user, user.password, deviceOf(user))).json<SignIn>();
    expect(again.device_token).toBe(deviceOf(user));
    const fresh = await (await loginWith(user, user.password)).json<SignIn>();
    expect(fresh.device_token).not.toBe(deviceOf(user));
    expect(await devices(user.accessToken)).toHaveLength(2);
  });

  it("a stranger's lock (soft, then hard) never stops the owner's known device", async () => {
    const user = await register();
    await strangersLock(user);
    await problem(await loginWith(user, user.password), 423, "account_locked");
    expect((await loginWith(user, user.password, deviceOf(user))).status).toBe(200);
    await strangersLock(user, 10);
    expect((await loginWith(user, user.password, deviceOf(user))).status).toBe(200);
  });

  it("strangers spending the address's hourly login budget do not spend the owner's", async () => {
    const user = await register();
    // Ten strangers' attempts, correct password included, spend login_account_hour.
    for (let i = 0; i < 10; i++) await loginWith(user, i % 2 ? user.password : WRONG);
    await problem(await loginWith(user, user.password), 429, "rate_limited");
    expect((await loginWith(user, user.password, deviceOf(user))).status).toBe(200);
  });

  it("a known device has its own budget: after 5 failures its token is void and it is a stranger again", async () => {
    const user = await register();
    const device = deviceOf(user);
    for (let i = 0; i < 5; i++) await problem(await loginWith(user, WRONG, device), 401, "invalid_credentials");
    // The device's failures did not touch the address: a stranger may still log in.
    expect((await loginWith(user, user.password)).status).toBe(200);
    // The sixth try from that device is a stranger's, and the token is gone from the list.
    const res = await loginWith(user, user.password, device);
    expect(res.status).toBe(200);
    expect((await res.json<SignIn>()).device_token).not.toBe(device);
    expect((await devices(user.accessToken)).map((d) => d.id)).not.toContain(device.split(".")[1]);
  });

  it("counts for its own account only, and a forged one counts as none", async () => {
    const owner = await register();
    const other = await register();
    await strangersLock(owner);
    await problem(await loginWith(owner, owner.password, deviceOf(other)), 423, "account_locked");
    // A different signature (the 10th character from the end carries data bits, unlike the last one's padding).
    const token = deviceOf(owner);
    const at = token.length - 10;
    const forged = `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
    await problem(await loginWith(owner, owner.password, forged), 423, "account_locked");
    // Nor does a look-alike spelling of the owner's own token (non-zero padding bits in the last character).
    const lookalike = `${token.slice(0, -1)}${String.fromCharCode(token.charCodeAt(token.length - 1) + 1)}`;
    await problem(await loginWith(owner, owner.password, lookalike), 423, "account_locked");
    await problem(await loginWith(owner, owner.password, "not a device token"), 423, "account_locked");
  });

  it("is listed and can be forgotten by its owner", async () => {
    const user = await register();
    const [only] = await devices(user.accessToken);
    expect(only!.id).toBe(deviceOf(user).split(".")[1]);
    expect((await call(`/api/v1/users/me/devices/${only!.id}`, { method: "DELETE", token: user.accessToken })).status).toBe(204);
    await problem(await call(`/api/v1/users/me/devices/${only!.id}`, { method: "DELETE", token: user.accessToken }), 404, "not_found");
    await strangersLock(user);
    await problem(await loginWith(user, user.password, deviceOf(user)), 423, "account_locked");
  });

  it("dies with a password reset, a password change and logout-all", async () => {
    for (const end of ["reset", "change", "logout_all"] as const) {
      const user = await register();
      const device = deviceOf(user);
      let password = user.password;
      if (end === "reset") {
        await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
        const [mail] = await outbox(user.email, "password_reset");
        await call("/api/v1/auth/reset-password", { body: { token: mail!.token, new_password: NEW_PASSWORD }, ip: freshIp() });
        password = NEW_PASSWORD;
      } else if (end === "change") {
        const body = { current_password: user.password, new_password: NEW_PASSWORD };
        expect((await call("/api/v1/users/me/password", { method: "PATCH", token: user.accessToken, body })).status).toBe(204);
        password = NEW_PASSWORD;
      } else {
        expect((await call("/api/v1/auth/logout?scope=all", { method: "POST", token: user.accessToken })).status).toBe(204);
      }
      await strangersLock(user);
      await problem(await loginWith(user, password, device), 423, "account_locked");
    }
  });
});

describe("what a stranger who knows only the address can no longer do", () => {
  it("block the signed-in owner's password change with a lock; the owner's own wrong guesses still count", async () => {
    const user = await register();
    await strangersLock(user, 10);
    const change = (current: string) =>
      call("/api/v1/users/me/password", {
        method: "PATCH",
        token: user.accessToken,
        body: { current_password: current, new_password: NEW_PASSWORD },
      });
    for (let i = 0; i < 5; i++) await problem(await change(WRONG), 400, "invalid_current_password");
    await problem(await change(user.password), 423, "account_locked");
    const other = await register();
    await strangersLock(other, 10);
    expect(
      (
        await call("/api/v1/users/me/password", {
          method: "PATCH",
          token: other.accessToken,
          body: { current_password: other.password, new_password: NEW_PASSWORD },
        })
      ).status,
    ).toBe(204);
  });

  it("spend the address's forgot-password budget for the owner's known device", async () => {
    const user = await register();
    for (let i = 0; i < 3; i++) await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    const stranger = await call("/api/v1/auth/forgot-password", { body: { email: user.email }, ip: freshIp() });
    await problem(stranger, 429, "rate_limited");
    const owner = await call("/api/v1/auth/forgot-password", { body: { email: user.email, device_token: deviceOf(user) }, ip: freshIp() });
    expect(owner.status).toBe(202);
    expect(await outbox(user.email, "password_reset")).toHaveLength(2);
  });
});

describe("the device a password change hands its own client", () => {
  const depsOf = (now?: () => Date) =>
    createDeps(env, {
      meta: { ip: "203.0.113.9", userAgent: "Changer/1.0", requestId: "test" },
      waitUntil: () => undefined,
      ...(now ? { now } : {}),
    });
  const changePassword = (user: Registered) =>
    call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: NEW_PASSWORD },
    });

  it("is a known device after the change, even with the epoch ahead of this clock; the old token is not", async () => {
    const user = await register();
    expect((await changePassword(user)).status).toBe(204);
    const token = await deviceAfterPasswordChange(depsOf(), user.userId);
    expect(token).toMatch(/^gd1\./);
    const known = await (await loginWith(user, NEW_PASSWORD, token!)).json<SignIn>();
    expect(known.device_token).toBe(token);
    const stale = await (await loginWith(user, NEW_PASSWORD, deviceOf(user))).json<SignIn>();
    expect(stale.device_token).not.toBe(deviceOf(user));

    // Two changes within one millisecond move the epoch past the clock: the device is issued at the epoch.
    const ahead = Date.now() + 60_000;
    await env.DB.prepare("UPDATE users SET credentials_epoch = ? WHERE id = ?").bind(ahead, user.userId).run();
    const later = await deviceAfterPasswordChange(depsOf(), user.userId);
    expect(later!.split(".")[2]).toBe(String(ahead));
    expect((await (await loginWith(user, NEW_PASSWORD, later!)).json<SignIn>()).device_token).toBe(later);
  });

  it("is none for an account deactivated or deleted meanwhile: nothing is written", async () => {
    const user = await register();
    const count = async () =>
      (await env.DB.prepare("SELECT count(*) AS n FROM devices WHERE user_id = ?").bind(user.userId).first<{ n: number }>())!.n;
    const before = await count();
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(user.userId).run();
    expect(await deviceAfterPasswordChange(depsOf(), user.userId)).toBeNull();
    await env.DB.prepare("UPDATE users SET is_active = 1, deleted_at = ? WHERE id = ?").bind(Date.now(), user.userId).run();
    expect(await deviceAfterPasswordChange(depsOf(), user.userId)).toBeNull();
    expect(await count()).toBe(before);
  });
});
