import { describe, expect, it, vi } from "vitest";
import { call, freshIp, login, outbox, problem, register, uniqueEmail, userRow, type Registered } from "./helpers";
import { Browser } from "./pages-browser";

/**
 * The revert link of an email change is the owner's way back from a phisher who moved the account
 * to their own address. The phisher also knows the password and reads the new mailbox, so a
 * password change, a logout-all or a reset from the new address must not void the link; it dies
 * only on proof a phisher cannot have (a sign-in from a device known at least 7 days before the
 * change). Using it tells the address it leaves at once.
 */

const ME = "/api/v1/users/me";
const DAY = 86_400_000;

async function signIn(user: { email: string; password: string }, deviceToken?: string) {
  const res = await login({ email: user.email, password: user.password, ...(deviceToken ? { device_token: deviceToken } : {}) });
  expect(res.status).toBe(200);
  return res.json<{ access_token: string; device_token: string }>();
}

/** Moves the account to a new address with `accessToken` (someone who knows the password) and returns it. */
async function moveTo(user: { email: string; password: string }, accessToken: string, to = uniqueEmail("moved")): Promise<string> {
  const res = await call(`${ME}/email`, { token: accessToken, body: { new_email: to, password: user.password }, ip: freshIp() });
  expect(res.status).toBe(202);
  const [link] = await outbox(to, "email_change");
  expect((await call("/api/v1/auth/verify-email", { body: { token: link!.token }, ip: freshIp() })).status).toBe(200);
  return to;
}

async function revertLinkSentTo(address: string): Promise<string> {
  const notice = (await outbox(address, "security_notice")).find((m) => m.subject === "Your email address was changed");
  expect(notice?.token).toEqual(expect.any(String));
  return notice!.token!;
}

const revert = (token: string) => call("/api/v1/auth/revert-email-change", { body: { token }, ip: freshIp() });

describe("what a phisher does after moving the account does not void the old address's link", () => {
  it("a reset from the new address, a password change and a logout-all leave it working", async () => {
    const owner = await register();
    const phisher = await signIn(owner);
    const theirs = await moveTo(owner, phisher.access_token);
    const link = await revertLinkSentTo(owner.email);

    // The phisher resets the password through their own mailbox, changes it again and logs out everywhere.
    expect((await call("/api/v1/auth/forgot-password", { body: { email: theirs }, ip: freshIp() })).status).toBe(202);
    const [reset] = await outbox(theirs, "password_reset");
    const newPassword = "the phisher's own passphrase 1";
    expect(
      (await call("/api/v1/auth/reset-password", { body: { token: reset!.token, new_password: newPassword }, ip: freshIp() })).status,
    ).toBe(200);
    const again = await signIn({ email: theirs, password: newPassword });
    const changed = await call(`${ME}/password`, {
      method: "PATCH",
      token: again.access_token,
      body: { current_password: newPassword, new_password: "and another one, longer 22" },
    });
    expect(changed.status).toBe(204);
    expect((await call("/api/v1/auth/logout?scope=all", { method: "POST", token: again.access_token, body: {} })).status).toBe(204);

    // The owner's link still takes the account back.
    expect((await revert(link)).status).toBe(200);
    expect((await userRow(owner.email))?.id).toBe(owner.userId);
    // And the address it left is told at once.
    expect((await outbox(theirs, "security_notice")).map((m) => m.subject)).toContain("Your account left this email address");
  });

  it("a second move does not void the first move's link; using the first voids the second's", async () => {
    const owner = await register();
    const phisher = await signIn(owner);
    const first = await moveTo(owner, phisher.access_token);
    const ownersLink = await revertLinkSentTo(owner.email);
    await moveTo({ ...owner, email: first }, phisher.access_token);
    const phishersLink = await revertLinkSentTo(first);

    expect((await revert(ownersLink)).status).toBe(200);
    expect((await userRow(owner.email))?.id).toBe(owner.userId);
    // The link of the later move (held by the phisher) is dead now.
    await problem(await revert(phishersLink), 400, "invalid_token");
    expect((await userRow(owner.email))?.id).toBe(owner.userId);
  });

  it("two revert links used at once: one wins", async () => {
    const owner = await register();
    const phisher = await signIn(owner);
    await moveTo(owner, phisher.access_token);
    const link = await revertLinkSentTo(owner.email);
    const answers = await Promise.all([revert(link), revert(link)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
  });
});

describe("proof a phisher cannot have ends the link", () => {
  async function ownerWithOldDevice(ageDays: number): Promise<{ owner: Registered; device: string; start: number }> {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const owner = await register();
    vi.setSystemTime(start + ageDays * DAY);
    return { owner, device: owner.body.device_token as string, start };
  }

  it("a sign-in from a device known at least 7 days before the change voids its link", async () => {
    const { owner, device } = await ownerWithOldDevice(8);
    const session = await signIn(owner, device);
    await moveTo(owner, session.access_token);
    const link = await revertLinkSentTo(owner.email);
    const moved = { ...owner, email: (await call(ME, { token: session.access_token }).then((r) => r.json<{ email: string }>())).email };
    // The owner, who made the change, signs in again from that old device.
    await signIn(moved, device);
    await problem(await revert(link), 400, "invalid_token");
  });

  it("a device known for less than 7 days before the change does not", async () => {
    const { owner } = await ownerWithOldDevice(3);
    const recent = await signIn(owner);
    await moveTo(owner, recent.access_token);
    const link = await revertLinkSentTo(owner.email);
    const moved = { ...owner, email: (await call(ME, { token: recent.access_token }).then((r) => r.json<{ email: string }>())).email };
    await signIn(moved, recent.device_token);
    await signIn(moved, owner.body.device_token as string);
    expect((await revert(link)).status).toBe(200);
  });
});

describe("the account page", () => {
  it("shows an outstanding undo link, to whom it went and until when", async () => {
    const owner = await register();
    const phisher = await signIn(owner);
    const theirs = await moveTo(owner, phisher.access_token);
    const browser = new Browser();
    const res = await browser.submit(await browser.open("/login"), "/login", { identifier: theirs, password: owner.password });
    expect(res.status).toBe(303);
    const page = await (await browser.get("/account")).text();
    expect(page).toContain(
      `A link sent to <bdi>${owner.email}</bdi> can undo the change of this account&#39;s address to <bdi>${theirs}</bdi>`,
    );
  });
});

describe("the first proof of an address", () => {
  it("clears the username and name a squatter chose, with their password", async () => {
    const verify = { REQUIRE_EMAIL_VERIFICATION: "true" };
    const email = uniqueEmail("squatted");
    const squat = await call("/api/v1/auth/register", {
      env: verify,
      ip: freshIp(),
      body: { email, password: "planted by someone else 77", full_name: "Squatter Name", username: `sq${Date.now().toString(36)}` },
    });
    expect(squat.status, await squat.clone().text()).toBe(202);
    expect((await call("/api/v1/auth/forgot-password", { body: { email }, ip: freshIp() })).status).toBe(202);
    const [reset] = await outbox(email, "password_reset");
    const done = await call("/api/v1/auth/reset-password", {
      body: { token: reset!.token, new_password: "the owner's passphrase 2026" },
      ip: freshIp(),
    });
    expect(done.status).toBe(200);
    const row = await userRow(email);
    expect(row).toMatchObject({ username: null, full_name: "", email_verified: 1 });
  });
});
