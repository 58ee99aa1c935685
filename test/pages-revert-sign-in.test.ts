import { describe, expect, it } from "vitest";
import { login, outbox, register } from "./helpers";
import { Browser, textOf } from "./pages-browser";

/** The "this wasn't me" link of a new-sign-in notice lands on a page that works. */

describe("/revert-sign-in", () => {
  it("shows the page without using the link up, and its form secures the account", async () => {
    const user = await register();
    // A login without the device token is a new device: the owner is told, with the link.
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    const notice = (await outbox(user.email, "security_notice")).find((m) => m.subject.includes("sign-in"));
    expect(notice?.text).toContain("https://auth.example.com/revert-sign-in?token=");

    const browser = new Browser();
    const page = await browser.open(`/revert-sign-in?token=${notice!.token}`);
    expect(textOf(page)).toContain("It wasn't me");
    // Opening it twice changes nothing.
    await browser.open(`/revert-sign-in?token=${notice!.token}`);

    const done = await browser.submit(page, "/revert-sign-in");
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/login?notice=sign_in_reverted");
    expect((await login({ email: user.email, password: user.password })).status).toBe(401);
    expect(await outbox(user.email, "password_reset")).toHaveLength(1);
    await browser.open(`/revert-sign-in?token=${notice!.token}`, 400);
  });

  it("answers a dead or missing link with a page, not a 404", async () => {
    await new Browser().open("/revert-sign-in?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 400);
    await new Browser().open("/revert-sign-in", 400);
  });
});
