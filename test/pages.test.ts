import { describe, expect, it } from "vitest";
import { safeReturnTo } from "../src/pages/return-to";
import { contrast } from "../src/kernel/accent";
import { palette } from "../src/pages/theme";
import { brokenD1 } from "./broken-bindings";
import { call, captureLogs, freshIp, outbox, register, STRONG_PASSWORD, superuser, uniqueEmail } from "./helpers";
import { Browser, fieldError, formOf, gzippedSize, OWN, textOf } from "./pages-browser";

/** The hosted pages, their headers, sign-in, sign-out, CSRF and `return_to`. */

const APP = "https://app.example.com"; // in CORS_ORIGINS (vitest.config.ts)
const PAGES = [
  "/login",
  "/register",
  "/forgot-password",
  "/reset-password?token=x",
  "/verify-email?token=x",
  "/revert-email-change?token=x",
  "/logout",
  "/resend-verification",
];

async function signedIn(): Promise<{ browser: Browser; email: string; password: string }> {
  const user = await register();
  const browser = new Browser();
  const page = await browser.open("/login");
  const res = await browser.submit(page, "/login", { identifier: user.email, password: user.password });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/account");
  return { browser, email: user.email, password: user.password };
}

describe("every page", () => {
  it("is HTML with a nonce CSP that loads nothing from elsewhere, no framing, no caching", async () => {
    for (const path of PAGES) {
      const res = await new Browser().get(path);
      const html = await res.text();
      expect(res.headers.get("content-type"), path).toContain("text/html");
      expect(html.startsWith("<!DOCTYPE html>"), path).toBe(true);
      const csp = res.headers.get("content-security-policy")!;
      const nonce = /style-src 'nonce-([^']+)'/.exec(csp)?.[1];
      expect(nonce, `${path}: ${csp}`).toBeTruthy();
      expect(html).toContain(`<style nonce="${nonce}">`);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("base-uri 'none'");
      expect(csp).toContain(`form-action 'self' ${APP}`);
      if (path.startsWith("/login")) {
        // The sign-in page's passkey button: one inline script, under this response's nonce only.
        expect(csp).toContain(`script-src 'nonce-${nonce}'; connect-src 'self'`);
        expect(html.match(/<script[^>]*>/g)).toEqual([`<script nonce="${nonce}">`]);
      } else {
        expect(csp).not.toContain("script-src");
        expect(html).not.toMatch(/<script/i);
      }
      expect(csp).not.toMatch(/unsafe/);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
      expect(html).not.toMatch(/https?:\/\/(?!auth\.example\.com)[a-z]/i);
    }
  });

  it("gets a fresh nonce on every response", async () => {
    const browser = new Browser();
    const nonces = new Set<string>();
    for (let i = 0; i < 3; i++) nonces.add((await browser.get("/login")).headers.get("content-security-policy")!);
    expect(nonces.size).toBe(3);
  });

  it("weighs at most 30 KiB gzipped, the account page with data included", async () => {
    const sizes: Record<string, number> = {};
    for (const path of PAGES) sizes[path] = await gzippedSize(await (await new Browser().get(path)).text());
    const { browser } = await signedIn();
    const account = await browser.open("/account");
    sizes["/account"] = await gzippedSize(account);
    // No page loads anything else (no script, stylesheet or font file): the document is the whole weight.
    for (const [path, size] of Object.entries(sizes)) expect(size, path).toBeLessThanOrEqual(30 * 1024);
  });

  it("takes its name, accent colour, logo and support address from the configuration", async () => {
    const logo = "data:image/png;base64,iVBORw0KGgo=";
    const env = { BRAND_NAME: "Acme ID", BRAND_ACCENT_COLOR: "#ffcc00", BRAND_LOGO_URL: logo, SUPPORT_EMAIL: "help@acme.test" };
    const res = await new Browser(env).get("/login");
    const html = await res.text();
    expect(html).toContain("<title>Sign in · Acme ID</title>");
    expect(html).toContain(`<img src="${logo}" alt=""/>`);
    expect(html).toContain('href="mailto:help@acme.test"');
    expect(html).toContain("--accent:#ffcc00");
    expect(res.headers.get("content-security-policy")).toContain("img-src data:");
    // A logo on another host would load from elsewhere: a configuration error.
    const logs = captureLogs();
    const bad = await call("/login", { env: { BRAND_LOGO_URL: "https://cdn.evil.test/logo.png" } });
    expect(bad.status).toBe(500);
    expect(logs.problems()[0]?.message).toContain("BRAND_LOGO_URL");
  });
});

describe("colours from the accent", () => {
  it("keep text and links readable (WCAG AA) in light and dark mode, whatever the accent", () => {
    const hex = (v: string) => [1, 3, 5].map((i) => Number.parseInt(v.slice(i, i + 2), 16)) as [number, number, number];
    for (const accent of ["#ffcc00", "#1f5fbf", "#000000", "#ffffff", "#777777", "#00ff00", "#1a1a2e"]) {
      const p = palette(accent);
      expect(contrast(hex(p.accent), hex(p.onAccent)), accent).toBeGreaterThanOrEqual(4.5);
      expect(contrast(hex(p.linkLight), [255, 255, 255]), accent).toBeGreaterThanOrEqual(4.5);
      expect(contrast(hex(p.linkDark), [24, 28, 34]), accent).toBeGreaterThanOrEqual(4.5);
    }
  });
});

describe("/login", () => {
  it("has labelled fields, signs in by email or username with the API's cookies, and redirects", async () => {
    const user = await register({ username: `ada_${Date.now().toString(36)}` });
    const browser = new Browser();
    const page = await browser.open("/login");
    expect(page).toContain('<label for="login-identifier">Email or username</label>');
    expect(page).toMatch(/<input id="login-password" name="password" type="password" autocomplete="current-password" required=""/);
    expect(browser.jar.has("__Host-gh_csrf")).toBe(true);
    const res = await browser.submit(page, "/login", {
      identifier: user.body.user ? String((user.body.user as { username: string }).username) : "",
      password: user.password,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    const cookies = res.headers.getSetCookie().join("\n");
    expect(cookies).toMatch(/__Host-gh_rt=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax/);
    expect(cookies).toContain("__Host-gh_dev=");
    // Signed in: /login goes straight on.
    const again = await browser.get("/login");
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/account");
  });

  it("shows validation errors beside the field, and a wrong password as one message", async () => {
    const browser = new Browser();
    let page = await browser.open("/login");
    let res = await browser.submit(page, "/login", { identifier: "", password: "" });
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "login-identifier")).toBe("Enter your email address or username.");
    expect(fieldError(page, "login-password")).toBe("Enter your password.");
    expect(page).toContain('aria-invalid="true" aria-describedby="login-identifier-error"');
    expect(page).toContain('<div class="alert" role="alert" tabindex="-1" autofocus="">');
    expect(page).toContain("<title>Error: Sign in · Gatehouse</title>");

    res = await browser.submit(page, "/login", { identifier: uniqueEmail(), password: "not the password" });
    expect(res.status).toBe(401);
    page = await res.text();
    expect(textOf(page)).toContain("The email, username or password is incorrect.");
    expect(page).not.toContain("not the password");
  });

  it("tells a deactivated account's owner so after the right password only, and whom to ask", async () => {
    const user = await register();
    const admin = await superuser();
    const deactivated = await call(`/api/v1/admin/users/${user.userId}/deactivate`, { method: "POST", token: admin.accessToken });
    expect(deactivated.status).toBe(204);
    const signIn = async (browser: Browser, password: string) =>
      browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password });

    // A wrong password learns nothing about the account's state.
    const stranger = new Browser();
    const wrong = await signIn(stranger, "not the password at all");
    expect(wrong.status).toBe(401);
    const wrongText = textOf(await wrong.text());
    expect(wrongText).toContain("The email, username or password is incorrect.");
    expect(wrongText).not.toMatch(/deactivated|administrator|support/i);

    const owner = new Browser();
    const right = await signIn(owner, user.password);
    expect(right.status).toBe(401);
    const page = await right.text();
    expect(textOf(page)).toContain(
      "Your password is right, but this account is deactivated. If you think this is a mistake, contact the administrator of this site.",
    );
    expect(textOf(page)).not.toContain("incorrect");
    expect(page).toContain('<div class="alert" role="alert" tabindex="-1" autofocus="">');
    expect(owner.jar.has("__Host-gh_rt")).toBe(false);

    // With SUPPORT_EMAIL, its address; in the person's language.
    const withSupport = new Browser({ SUPPORT_EMAIL: "help@example.com" });
    const supported = textOf(await (await signIn(withSupport, user.password)).text());
    expect(supported).toContain("If you think this is a mistake, contact support at \u2068help@example.com\u2069.");
    const german = new Browser();
    const germanPage = await german.open("/login?lang=de");
    const germanRes = await german.submit(germanPage, "/login", { identifier: user.email, password: user.password });
    expect(textOf(await germanRes.text())).toContain("Ihr Passwort ist richtig, aber dieses Konto ist deaktiviert.");
  });

  it("says a locked account is locked, with the wait, even with the right password", async () => {
    const user = await register();
    // From five places (the per-IP limit would stop one browser first): the account's lock applies to all.
    for (let i = 0; i < 5; i++) {
      const stranger = new Browser();
      const res = await stranger.submit(await stranger.open("/login"), "/login", {
        identifier: user.email,
        password: `wrong ${i} password`,
      });
      expect(res.status).toBe(401);
    }
    const browser = new Browser();
    const res = await browser.submit(await browser.open("/login"), "/login", { identifier: user.email, password: user.password });
    expect(res.status).toBe(423);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(textOf(await res.text())).toMatch(
      /Too many failed attempts: signing in to this account is paused\. Try again in (30|29) minutes, or reset your password\./,
    );
  });

  it("asks an unverified address to confirm first, and offers a new link (verification required)", async () => {
    const env = { REQUIRE_EMAIL_VERIFICATION: "true" };
    const email = uniqueEmail();
    const created = await call("/api/v1/auth/register", {
      body: { email, password: STRONG_PASSWORD, full_name: "Not Yet" },
      env,
      ip: freshIp(),
    });
    expect(created.status).toBe(202);
    const browser = new Browser(env);
    const res = await browser.submit(await browser.open("/login"), "/login", { identifier: email, password: STRONG_PASSWORD });
    expect(res.status).toBe(403);
    const page = await res.text();
    expect(textOf(page)).toContain("Confirm your email address before signing in");
    expect(res.headers.getSetCookie().join()).not.toContain("__Host-gh_rt=");
    const resent = await browser.submit(page, "/resend-verification");
    expect(resent.headers.get("location")).toBe("/login?notice=verification_sent");
    expect(await outbox(email, "email_verification")).toHaveLength(2);
  });

  it("says a rate limit is one, with the wait", async () => {
    const browser = new Browser();
    let page = await browser.open("/login");
    let res: Response | undefined;
    for (let i = 0; i < 6; i++) {
      res = await browser.submit(page, "/login", { identifier: uniqueEmail(), password: "whatever it is" });
      page = await res.text();
    }
    expect(res!.status).toBe(429);
    expect(res!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(textOf(page)).toMatch(/Too many attempts from here\. Try again in \d+ seconds\./);
  });
});

describe("return_to", () => {
  const policy = { ownOrigins: [OWN], allowedOrigins: [APP] };

  it("keeps same-origin paths (relative) and allowed origins, and refuses every trick", () => {
    expect(safeReturnTo("/account/x?y=1#z", policy)).toBe("/account/x?y=1#z");
    expect(safeReturnTo(`${OWN}/somewhere?a=b`, policy)).toBe("/somewhere?a=b");
    expect(safeReturnTo(`${APP}/after-login`, policy)).toBe(`${APP}/after-login`);
    expect(safeReturnTo("/%2F%2Fevil.test", policy)).toBe("/%2F%2Fevil.test"); // a path here, not a host
    for (const trick of [
      "//evil.test",
      "///evil.test",
      "https:evil.test",
      "https:/evil.test",
      "/\\evil.test",
      "\\\\evil.test",
      "/\\/evil.test",
      "%2F%2Fevil.test",
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "data:text/html,hi",
      "http://evil.test@app.example.com",
      "https://app.example.com@evil.test",
      "https://user:pw@app.example.com/",
      "https://evil.test",
      "https://app.example.com.evil.test/",
      "http://app.example.com/", // another scheme is another origin
      " /account",
      "/acc ount",
      "\t//evil.test",
      "/\t/evil.test",
      "/\n/evil.test",
      "/./\u0000/evil.test",
      "/.//evil.test",
      "/..//evil.test",
      "",
      "x".repeat(3000),
    ]) {
      expect(safeReturnTo(trick, policy), JSON.stringify(trick)).toBeNull();
    }
  });

  it("is followed after login only when allowed, otherwise /account", async () => {
    const cases: [string, string][] = [
      ["/account?x=1", "/account?x=1"],
      [`${APP}/welcome`, `${APP}/welcome`],
      ["//evil.test", "/account"],
      ["https:evil.test", "/account"],
      ["/\\evil.test", "/account"],
      ["javascript:alert(1)", "/account"],
      ["http://evil.test@app.example.com", "/account"],
    ];
    for (const [returnTo, expected] of cases) {
      const user = await register();
      const browser = new Browser();
      const page = await browser.open(`/login?return_to=${encodeURIComponent(returnTo)}`);
      // The page carries an allowed target in its form, and a refused one not at all.
      expect(formOf(page, "/login").includes('name="return_to"'), returnTo).toBe(expected !== "/account");
      // A forged form field is checked again on the way out.
      const res = await browser.submit(page, "/login", { identifier: user.email, password: user.password, return_to: returnTo });
      expect(res.status, returnTo).toBe(303);
      expect(res.headers.get("location"), returnTo).toBe(expected);
    }
  });
});

describe("page CSRF", () => {
  it("refuses a cross-site post, a post without the form's token, and a token of another form, with a 403 page", async () => {
    const user = await register();
    const browser = new Browser();
    const page = await browser.open("/login");
    const good = { identifier: user.email, password: user.password };
    const refusals = [
      () => browser.submit(page, "/login", good, undefined, { origin: "https://evil.test", site: "cross-site" }),
      () => browser.submit(page, "/login", good, undefined, { origin: "null", site: "cross-site" }),
      () => browser.submit(page, "/login", good, undefined, { origin: "https://app.example.com.evil.test" }),
      () => browser.submit(page, "/login", good, undefined, { origin: null, site: "cross-site" }),
      () => browser.submit(page, "/login", good, undefined, { origin: null, site: "same-site" }),
      () => browser.post("/login", good),
      () => browser.post("/login", { ...good, csrf_token: "forged" }),
      // The token of the forgot-password form does not open the login form.
      async () =>
        browser.post("/login", {
          ...good,
          csrf_token: /name="csrf_token" value="([^"]+)"/.exec(formOf(await browser.open("/forgot-password"), "/forgot-password"))![1]!,
        }),
    ];
    for (const attempt of refusals) {
      const res = await attempt();
      const html = await res.text();
      expect(res.status, html.slice(0, 300)).toBe(403);
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(textOf(html)).toContain("This form was refused");
      expect(res.headers.getSetCookie().join()).not.toContain("__Host-gh_rt=");
    }
    // Another browser's token (another CSRF cookie) does not work either.
    const other = new Browser();
    const res = await other.submit(page, "/login", good);
    expect(res.status).toBe(403);
    // The genuine post from the page itself, from an allowed origin, and from a non-browser client.
    expect((await browser.submit(page, "/login", good, undefined, { origin: null, site: "same-origin" })).status).toBe(303);
    expect((await new Browser().post("/login", good)).status).toBe(403);
  });
});

describe("/logout", () => {
  it("GET shows the buttons; POST ends the session, clears the cookie and the session is gone", async () => {
    const { browser } = await signedIn();
    const page = await browser.open("/logout");
    expect(textOf(page)).toContain("Sign out everywhere");
    const res = await browser.submit(page, "/logout", {}, undefined);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?notice=signed_out");
    expect(res.headers.getSetCookie().join()).toMatch(/__Host-gh_rt=; Max-Age=0/);
    const account = await browser.get("/account");
    expect(account.status).toBe(303);
    expect(account.headers.get("location")).toBe("/login?return_to=%2Faccount");
    expect(textOf(await browser.open("/login?notice=signed_out"))).toContain("You are signed out.");
  });

  it("signs out everywhere: the other browser's session is gone too", async () => {
    const { browser, email, password } = await signedIn();
    const other = new Browser();
    await other.submit(await other.open("/login"), "/login", { identifier: email, password });
    expect((await other.get("/account")).status).toBe(200);
    const res = await browser.submit(await browser.open("/logout"), "/logout", {}, 'value="all"');
    expect(res.headers.get("location")).toBe("/login?notice=signed_out_everywhere");
    expect((await other.get("/account")).status).toBe(303);
  });
});

describe("form posts", () => {
  it("refuses a body over 16 KiB with a page (413) before reading it", async () => {
    const browser = new Browser();
    const page = await browser.open("/login");
    const res = await browser.submit(page, "/login", { identifier: "x".repeat(20_000), password: "y" });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("<title>Error: Form too large · ");
    expect(textOf(html)).toContain("The form was too large.");
  });

  it("says the service is briefly unavailable while D1 is down: 503 with Retry-After, titled so, in the person's language", async () => {
    const user = await register();
    const browser = new Browser({ DB: brokenD1() });
    const page = await browser.open("/login?lang=de");
    const res = await browser.submit(page, "/login", { identifier: user.email, password: user.password });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const html = await res.text();
    expect(html).toMatch(/<title>[^<]*Vorübergehend nicht verfügbar · /);
    expect(textOf(html)).toContain("Der Dienst ist kurzzeitig nicht verfügbar. Versuchen Sie es gleich noch einmal.");
    expect(textOf(html)).not.toMatch(/schiefgelaufen|Network connection/);
    expect(browser.jar.has("__Host-gh_rt")).toBe(false);
  });

  it("answers a GET of /logout while signed out with a way to sign in", async () => {
    const page = await new Browser().open("/logout");
    expect(textOf(page)).toContain("You are not signed in.");
    expect(page).not.toContain('action="/logout"');
  });
});

describe("/register", () => {
  it("creates the account, signs the browser in and shows errors beside the fields", async () => {
    const browser = new Browser();
    let page = await browser.open("/register");
    for (const name of ["full_name", "email", "username", "password"]) expect(page).toContain(`<label for="register-${name}">`);
    let res = await browser.submit(page, "/register", { full_name: "", email: "not an address", username: "x", password: "" });
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "register-full_name")).toContain("Enter your name");
    expect(fieldError(page, "register-email")).toContain("Enter a valid email address");
    expect(fieldError(page, "register-username")).toContain("3 to 50");
    expect(page).toContain('value="not an address"');

    const email = uniqueEmail();
    res = await browser.submit(page, "/register", { full_name: "Grace Hopper", email, username: "", password: "password" });
    expect(res.status).toBe(422);
    page = await res.text();
    expect(fieldError(page, "register-password")).toMatch(/common|pattern/);

    res = await browser.submit(page, "/register", { full_name: "Grace Hopper", email, password: STRONG_PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?notice=welcome");
    const account = await browser.open("/account?notice=welcome");
    expect(textOf(account)).toContain(`Current address: ${email}`);

    const again = new Browser();
    res = await again.submit(await again.open("/register"), "/register", { full_name: "Someone", email, password: STRONG_PASSWORD });
    expect(res.status).toBe(409);
    expect(fieldError(await res.text(), "register-email")).toContain("already has an account");
  });

  it("with verification required, answers the same 'check your inbox' for new and taken addresses", async () => {
    const env = { REQUIRE_EMAIL_VERIFICATION: "true" };
    const taken = await register();
    for (const email of [uniqueEmail(), taken.email]) {
      const browser = new Browser(env);
      const res = await browser.submit(await browser.open("/register"), "/register", {
        full_name: "Some One",
        email,
        password: STRONG_PASSWORD,
      });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/login?notice=check_inbox");
      expect(res.headers.getSetCookie().join()).not.toContain("__Host-gh_rt=");
    }
  });
});
