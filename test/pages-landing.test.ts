import { describe, expect, it } from "vitest";
import { call } from "./helpers";
import { Browser, textOf } from "./pages-browser";

/** `/` (the landing page, plain when deployed, a developer's index in dev mode) and `/.well-known/change-password`. */

const DEV_LINKS = ["/docs", "/openapi.json", "/login", "/register", "/account", "/dev/outbox"];

/** The `href`s of a page's main content (not the language switcher's or the header's). */
function mainLinks(html: string): string[] {
  const main = /<main id="main">([\s\S]*?)<\/main>/.exec(html)![1]!;
  return [...main.matchAll(/<a\b[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
}

describe("GET /", () => {
  it("in dev mode: a page of the kit with the developer's links, the dev outbox's among them", async () => {
    const res = await call("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("cache-control")).toBe("no-store");
    // The pages' own CSP: a nonce for the stylesheet, nothing from elsewhere, no framing.
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/^default-src 'none'; style-src 'nonce-[A-Za-z0-9_-]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("script-src");
    const html = await res.text();
    expect(html).toContain('<html lang="en" dir="ltr">');
    expect(mainLinks(html)).toEqual(["/login", ...DEV_LINKS]);
    const text = textOf(html);
    expect(text).toContain("Welcome · Gatehouse");
    expect(text).toContain("Development server");
    expect(text).toContain("Dev outbox");
  });

  it("deployed (no dev outbox): the brand and a sign-in link, nothing about the configuration", async () => {
    const res = await call("/", { env: { DEV_OUTBOX: "false" } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(mainLinks(html)).toEqual(["/login"]);
    const text = textOf(html);
    expect(text).toContain("Gatehouse");
    expect(text).toContain("Sign in");
    for (const secret of ["DEV_OUTBOX", "/docs", "/openapi.json", "/dev/outbox", "Development"]) expect(html).not.toContain(secret);
  });

  it("speaks the person's language, and sends a signed-in browser to the account", async () => {
    const german = await call("/", { env: { DEV_OUTBOX: "false" }, headers: { "Accept-Language": "de-DE,de;q=0.9" } });
    const html = await german.text();
    expect(html).toContain('<html lang="de" dir="ltr">');
    expect(textOf(html)).toContain("Willkommen");
    const arabic = await call("/?lang=ar");
    expect(await arabic.text()).toContain('<html lang="ar" dir="rtl">');

    const browser = new Browser();
    const registered = await browser.submit(await browser.open("/register"), "/register", {
      full_name: "Lena Landing",
      email: `landing.${Date.now().toString(36)}@example.com`,
      password: "correct horse battery staple 42",
    });
    expect(registered.status).toBe(303);
    const signedIn = await browser.open("/");
    expect(mainLinks(signedIn)).toContain("/account");
    expect(textOf(signedIn)).toContain("Go to your account");
  });
});

describe("GET /.well-known/change-password", () => {
  it("redirects to the account page's password section, which has that id", async () => {
    const res = await call("/.well-known/change-password");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/account#password");
    // Signed out, the account page asks for a sign-in first; signed in, the section is there.
    const browser = new Browser();
    await browser.submit(await browser.open("/register"), "/register", {
      full_name: "Pat Password",
      email: `change.${Date.now().toString(36)}@example.com`,
      password: "correct horse battery staple 42",
    });
    const account = await browser.open("/account");
    expect(account).toContain('<section id="password" aria-labelledby="password-h">');
  });
});
