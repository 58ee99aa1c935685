import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { uniqueDevEmail, uniqueDevIp } from "./shared-server";

/**
 * Signing in with an external provider under `npm run dev`, against the loopback providers of
 * `npm run fakes` (test/dev/global-setup.mjs names them in OAUTH_PROVIDERS): the whole flow as a
 * browser makes it, over real HTTP, with the worker's outbound calls to the fakes. The attack list
 * runs inside workerd in test/external-sign-in.test.ts; this is the same code under wrangler.
 */

/** A cookie jar and a client address: the parts of a browser these flows need. */
class DevBrowser {
  readonly jar = new Map<string, string>();
  readonly ip = uniqueDevIp();
  readonly base = inject("devServer").base;

  async fetch(url: string, init: RequestInit = {}, cookies = true): Promise<Response> {
    // PUBLIC_URL names localhost; the test talks to the same server at 127.0.0.1.
    const target = new URL(url.replace(/^http:\/\/localhost:/, "http://127.0.0.1:"), this.base);
    const headers = new Headers(init.headers);
    headers.set("cf-connecting-ip", this.ip);
    if (cookies && this.jar.size) headers.set("cookie", [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(target, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      if (/max-age=0/i.test(line)) this.jar.delete(pair.slice(0, at));
      else this.jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  }

  /** Start, the fake approves as `identity`, and the callback's answer (a form_post is posted cross-site, without cookies). */
  async signInWith(provider: string, identity: Record<string, unknown>): Promise<Response> {
    const start = await this.fetch(`/api/v1/auth/oauth/${provider}/start`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("identity", JSON.stringify(identity));
    const answer = await fetch(authorize, { redirect: "manual" });
    if (answer.status === 302) return this.fetch(answer.headers.get("location")!);
    const html = await answer.text();
    const unescape = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
    const action = unescape(/action="([^"]+)"/.exec(html)![1]!);
    const fields = new URLSearchParams([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, unescape(m[2]!)]));
    const posted = await this.fetch(action, { method: "POST", body: fields, headers: { origin: "https://appleid.apple.com" } }, false);
    expect(posted.status).toBe(303);
    return this.fetch(posted.headers.get("location")!);
  }
}

describe("external providers under npm run dev", () => {
  it("signs up with Google, and with Apple through its cross-site form_post, landing on /account", async () => {
    for (const provider of ["google", "apple"]) {
      const browser = new DevBrowser();
      const email = uniqueDevEmail(provider);
      const res = await browser.signInWith(provider, {
        sub: `${provider}-${crypto.randomUUID()}`,
        email,
        email_verified: true,
        name: "Dev Person",
      });
      expect(res.status, await res.clone().text()).toBe(303);
      expect(res.headers.get("location")).toBe("/account");
      const account = await browser.fetch("/account");
      expect(account.status).toBe(200);
      expect(await account.text()).toContain(email);
    }
  });

  it("refuses a callback without this browser's flow cookie, and an id_token signed by another key", async () => {
    const browser = new DevBrowser();
    const start = await browser.fetch("/api/v1/auth/oauth/fake/start");
    const authorize = new URL(start.headers.get("location")!);
    authorize.searchParams.set("identity", JSON.stringify({ sub: crypto.randomUUID(), email: uniqueDevEmail("x"), email_verified: true }));
    const answer = await fetch(authorize, { redirect: "manual" });
    const stranger = new DevBrowser();
    const res = await stranger.fetch(answer.headers.get("location")!);
    expect(res.status).toBe(400);
    expect(stranger.jar.has("__Host-gh_rt")).toBe(false);
    const forged = await new DevBrowser().signInWith("fake", {
      sub: crypto.randomUUID(),
      email: uniqueDevEmail("f"),
      email_verified: true,
      tamper: { signature: "bad" },
    });
    expect(forged.status).toBe(400);
  });
});
