import { describe, expect, it, vi } from "vitest";
import { call, login, outbox, register, uniqueEmail, userRow } from "./helpers";
import { Browser, fieldError, formOf, textOf } from "./pages-browser";

/** /account and its forms, each calling the service its API route calls. */

const NEW_PASSWORD = "another long passphrase 2026";

async function signedIn(username?: string) {
  const user = await register(username ? { username } : {});
  const browser = new Browser();
  const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  return { user, browser };
}

describe("a browser that only uses the pages", () => {
  it("stays signed in while it keeps visiting: a visit a day moves the session's idle limit and the cookie's Max-Age", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const { browser } = await signedIn();
    const day = 86_400_000;
    // Within a day of the sign-in nothing is written.
    const early = await browser.get("/account");
    expect(early.status).toBe(200);
    expect(early.headers.getSetCookie().some((c) => c.startsWith("__Host-gh_rt="))).toBe(false);
    // Every 6 days, for 18 days: far past the 7-day idle limit of the sign-in itself.
    for (let visit = 1; visit <= 3; visit++) {
      vi.setSystemTime(start + visit * 6 * day);
      const page = await browser.get("/account");
      expect(page.status, `visit ${visit}`).toBe(200);
      const cookie = page.headers.getSetCookie().find((c) => c.startsWith("__Host-gh_rt="));
      expect(cookie).toMatch(/Max-Age=604800/);
      expect(cookie).toMatch(/HttpOnly/);
    }
    // Eight quiet days (still within the 30-day absolute lifetime): the session idled out.
    vi.setSystemTime(start + 26 * day);
    expect((await browser.get("/account")).status).toBe(303);
  });
});

describe("/account", () => {
  it("sends a signed-out browser to sign in, and answers no-store HTML with every section", async () => {
    const res = await new Browser().get("/account");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?return_to=%2Faccount");
    const { user, browser } = await signedIn();
    const page = await browser.get("/account");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const html = await page.text();
    for (const id of ["profile", "email", "password", "sessions", "devices", "api-keys", "log", "delete"])
      expect(html).toContain(`id="${id}"`);
    const text = textOf(html);
    expect(text).toContain(`Current address: ${user.email}`);
    expect(text).toContain("this device");
    expect(text).toContain("Signed in"); // the security log
    // Every form carries its token; none carries a session value.
    for (const form of html.match(/<form\b[\s\S]*?<\/form>/g)!) expect(form).toContain('name="csrf_token"');
    expect(html).not.toContain(browser.jar.get("__Host-gh_rt")!);
  });

  it("a POST to an account form while signed out goes to sign in; a forged one is refused", async () => {
    const { browser } = await signedIn();
    const page = await browser.open("/account");
    const stranger = new Browser();
    const res = await stranger.post("/account/profile", { full_name: "Hijacked" });
    expect(res.status).toBe(403);
    const crossSite = await browser.submit(page, "/account/profile", { full_name: "Hijacked" }, undefined, {
      origin: "https://evil.test",
      site: "cross-site",
    });
    expect(crossSite.status).toBe(403);
    const signedOut = new Browser();
    const token = formOf(page, "/account/profile");
    signedOut.jar.set("__Host-gh_csrf", browser.jar.get("__Host-gh_csrf")!);
    const redirected = await signedOut.post("/account/profile", {
      csrf_token: /name="csrf_token" value="([^"]+)"/.exec(token)![1]!,
      full_name: "X",
    });
    expect(redirected.status).toBe(303);
    expect(redirected.headers.get("location")).toBe("/login?return_to=%2Faccount");
  });

  it("changes the profile, with errors beside the fields", async () => {
    const taken = `taken_${Date.now().toString(36)}`;
    await register({ username: taken });
    const { user, browser } = await signedIn();
    let page = await browser.open("/account");
    let res = await browser.submit(page, "/account/profile", { full_name: "", username: "x" });
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "profile-full_name")).toContain("Enter your name");
    expect(fieldError(page, "profile-username")).toContain("3 to 50");
    res = await browser.submit(page, "/account/profile", { full_name: "Ada", username: taken });
    expect(res.status).toBe(409);
    expect(fieldError(await res.text(), "profile-username")).toBe("This username is taken.");
    res = await browser.submit(page, "/account/profile", { full_name: "Ada King", username: `ada_${Date.now().toString(36)}` });
    expect(res.headers.get("location")).toBe("/account?notice=profile_saved#profile");
    expect((await userRow(user.email))?.full_name).toBe("Ada King");
    expect(textOf(await browser.open("/account?notice=profile_saved"))).toContain("Your profile was saved.");
  });

  it("asks for an email change with the password and mails the new address", async () => {
    const { user, browser } = await signedIn();
    const page = await browser.open("/account");
    const newEmail = uniqueEmail("new");
    let res = await browser.submit(page, "/account/email", { new_email: newEmail, password: "not my password" });
    expect(res.status).toBe(400);
    expect(fieldError(await res.text(), "email-password")).toBe("The current password is incorrect.");
    res = await browser.submit(page, "/account/email", { new_email: user.email, password: user.password });
    expect(fieldError(await res.text(), "email-new_email")).toBe("This is already your email address.");
    res = await browser.submit(page, "/account/email", { new_email: newEmail, password: user.password });
    expect(res.headers.get("location")).toBe("/account?notice=email_change_sent#email");
    expect(await outbox(newEmail, "email_change")).toHaveLength(1);
  });

  it("changes the password: this browser stays signed in, every other session is gone", async () => {
    const { user, browser } = await signedIn();
    const other = new Browser();
    await other.submit(await other.open("/login"), "/login", { identifier: user.email, password: user.password });
    const page = await browser.open("/account");
    let res = await browser.submit(page, "/account/password", { current_password: "wrong one here", new_password: NEW_PASSWORD });
    expect(fieldError(await res.text(), "password-current_password")).toBe("The current password is incorrect.");
    res = await browser.submit(page, "/account/password", { current_password: user.password, new_password: "12345678" });
    expect(res.status).toBe(422);
    expect(fieldError(await res.text(), "password-new_password")).toMatch(/pattern|common/);
    res = await browser.submit(page, "/account/password", { current_password: user.password, new_password: NEW_PASSWORD });
    expect(res.headers.get("location")).toBe("/account?notice=password_changed#password");
    expect((await browser.get("/account")).status).toBe(200);
    expect((await other.get("/account")).status).toBe(303);
    expect((await call("/api/v1/users/me", { token: user.accessToken })).status).toBe(401);
    expect((await login({ email: user.email, password: NEW_PASSWORD })).status).toBe(200);
  });

  it("signs another session out, and forgets a device", async () => {
    const { user, browser } = await signedIn();
    const other = new Browser();
    await other.submit(await other.open("/login"), "/login", { identifier: user.email, password: user.password });
    let page = await browser.open("/account");
    const otherSession = [...page.matchAll(/action="\/account\/sessions\/revoke"[\s\S]*?name="id" value="([^"]+)"/g)].map((m) => m[1]);
    expect(otherSession.length).toBeGreaterThanOrEqual(2); // the API registration's session and the other browser's
    for (const id of otherSession) {
      const res = await browser.submit(page, "/account/sessions/revoke", { id: id! }, `value="${id}"`);
      expect(res.headers.get("location")).toBe("/account?notice=session_revoked#sessions");
    }
    expect((await other.get("/account")).status).toBe(303);
    expect((await browser.get("/account")).status).toBe(200);

    page = await browser.open("/account");
    const device = /action="\/account\/devices\/revoke"[\s\S]*?name="id" value="([^"]+)"/.exec(page)?.[1];
    expect(device).toBeDefined();
    const res = await browser.submit(page, "/account/devices/revoke", { id: device! }, `value="${device}"`);
    expect(res.headers.get("location")).toBe("/account?notice=device_forgotten#devices");
    const missing = await browser.submit(page, "/account/devices/revoke", { id: device! }, `value="${device}"`);
    expect(missing.status).toBe(404);
    expect(textOf(await missing.text())).toContain("There is nothing here any more.");
  });

  it("creates an API key shown once, needs the password once the sign-in is older than 5 minutes, and revokes it", async () => {
    const t0 = new Date();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0);
    const { browser } = await signedIn();
    let page = await browser.open("/account");
    let res = await browser.submit(page, "/account/api-keys", { name: "", expires_in_days: "x", scopes: [] });
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "api_key_create-name")).toContain("Give the key a name");
    expect(fieldError(page, "api_key_create-expires_in_days")).toBe("Enter a number of days.");

    res = await browser.submit(page, "/account/api-keys", { name: "backup script", expires_in_days: "30", scopes: ["profile:read"] });
    expect(res.status).toBe(201);
    page = await res.text();
    const key = /<p class="secret" id="new-api-key">([^<]+)<\/p>/.exec(page)?.[1];
    expect(key).toMatch(/^gh_/);
    expect((await call("/api/v1/users/me", { token: key! })).status).toBe(200);
    const again = await browser.open("/account");
    expect(again).not.toContain(key!);
    expect(textOf(again)).toContain("backup script");

    vi.setSystemTime(new Date(t0.getTime() + 6 * 60_000));
    res = await browser.submit(again, "/account/api-keys", { name: "later", scopes: ["profile:read"] });
    expect(res.status).toBe(403);
    expect(fieldError(await res.text(), "api_key_create-current_password")).toBe(
      "You signed in more than 5 minutes ago: enter your current password to confirm it is you.",
    );

    const id = /action="\/account\/api-keys\/revoke"[\s\S]*?name="id" value="([^"]+)"/.exec(again)![1]!;
    res = await browser.submit(again, "/account/api-keys/revoke", { id }, `value="${id}"`);
    expect(res.headers.get("location")).toBe("/account?notice=api_key_revoked#api-keys");
    expect((await call("/api/v1/users/me", { token: key! })).status).toBe(401);
  });

  it("pages through the security log, and ignores a mangled cursor", async () => {
    const { browser } = await signedIn();
    expect(textOf(await browser.open("/account?events=not-a-cursor"))).toContain("Signed in");
  });

  it("deletes the account with the password: signed out, cannot sign in", async () => {
    const { user, browser } = await signedIn();
    const page = await browser.open("/account");
    let res = await browser.submit(page, "/account/delete", { password: "not it at all" });
    expect(res.status).toBe(400);
    expect(fieldError(await res.text(), "delete-password")).toBe("The current password is incorrect.");
    res = await browser.submit(page, "/account/delete", { password: user.password });
    expect(res.headers.get("location")).toBe("/login?notice=account_deleted");
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
    expect((await login({ email: user.email, password: user.password })).status).toBe(401);
  });

  it("answers a GET of a form path with the account page", async () => {
    const res = await new Browser().get("/account/profile");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
  });
});
