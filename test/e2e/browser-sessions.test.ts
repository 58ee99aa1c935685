import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gatehouse as Client, Session } from "../../src/client/gatehouse";
import { launchChromium, type Gatehouse, type RequestLine, type Site, startGatehouse, startSite } from "./harness.mjs";
import { appPage, evilPage } from "./pages";

/**
 * Browser sessions in a real browser: the client served by `npm run dev`, loaded by an app on a sibling
 * subdomain (same-site), against an attacker on another site, and sessions ended from elsewhere
 * (another browser, an administrator). Each journey has its own accounts and browser context (its
 * own cookie jar).
 */

declare global {
  interface Window {
    app: {
      gh: Client;
      clock: { offset: number };
      signOuts: string[];
      me(): Promise<{ status: number; body: { email?: string; code?: string } }>;
    };
    appReady?: boolean;
  }
}

const SCREENSHOT = "/tmp/gatehouse-e2e-app.png";
/** More than the 60 s access-token lifetime the server runs with: every token counts as expired. */
const AGE_TOKENS_MS = 120_000;

let browser: Browser;
let gatehouse: Gatehouse;
let app: Site;
let evil: Site;
let authBase = "";
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium(); // first: no Chromium fails here, before the slow part
  app = await startSite(() => appPage(authBase));
  evil = await startSite(() => evilPage());
  gatehouse = await startGatehouse({ appOrigin: `http://app.example.localhost:${app.port}` });
  authBase = `http://auth.example.localhost:${gatehouse.port}`;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gatehouse?.stop();
  await app?.close();
  await evil?.close();
}, 60_000);

let accounts = 0;
function newAccount() {
  const n = ++accounts;
  return { email: `e2e-${Date.now()}-${n}@example.com`, password: "correct horse battery staple 42", full_name: `Tab Tester ${n}` };
}

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext();
  contexts.push(context);
  return context;
}

/** Opens the app in a new tab of `context` and waits for its on-load session check. */
async function openApp(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`http://app.example.localhost:${app.port}/`);
  await page
    .waitForFunction(() => window.appReady === true, null, { timeout: 15_000 })
    .catch((cause: unknown) => {
      throw new Error(`the app did not start: ${errors.join("; ") || String(cause)}`);
    });
  return page;
}

async function register(page: Page): Promise<Session> {
  const session = await page.evaluate((account) => window.app.gh.register(account), newAccount());
  if (!("access_token" in session)) throw new Error("registration did not sign in");
  return session;
}

const token = (page: Page) => page.evaluate(() => window.app.gh.getAccessToken());

/** The worker's request log lines after `mark` for `route`, once the log has caught up. */
async function loggedRequests(mark: number, route: string, atLeast: number): Promise<RequestLine[]> {
  const matching = () =>
    gatehouse
      .requests()
      .slice(mark)
      .filter((line) => line.route === route);
  const deadline = Date.now() + 5_000;
  while (matching().length < atLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // Anything that was still on its way.
  await new Promise((r) => setTimeout(r, 500));
  return matching();
}

describe("browser sessions through the Gatehouse client (Chromium)", () => {
  afterAll(async () => {
    for (const context of contexts) await context.close();
  });

  it("signs up and logs in; the refresh token never reaches page JavaScript", async () => {
    const context = await newContext();
    const page = await openApp(context);
    // Every successful body Gatehouse's API answers this page: what a script of the page could read.
    // (Errors carry no tokens; Playwright also stalls reading some of them.)
    const bodies: Promise<string>[] = [];
    page.on("response", (response) => {
      if (response.url().startsWith(`${authBase}/api/`) && response.status() === 200) bodies.push(response.text());
    });
    const account = newAccount();
    const registered = await page.evaluate((a) => window.app.gh.register(a), account);
    expect(registered).toHaveProperty("access_token");
    await page.evaluate(() => window.app.gh.logout());
    expect(await token(page)).toBeNull();

    const session = await page.evaluate(({ email, password }) => window.app.gh.login({ email, password }), account);
    expect(session.user.email).toBe(account.email);
    expect(session).not.toHaveProperty("refresh_token");
    expect(session).not.toHaveProperty("device_token");
    expect(await token(page)).toBe(session.access_token);
    expect(await page.evaluate(() => window.app.me())).toMatchObject({ status: 200, body: { email: account.email } });

    const cookies = await context.cookies(authBase);
    const refresh = cookies.find((c) => c.name === "__Host-gh_rt");
    expect(refresh).toMatchObject({ domain: "auth.example.localhost", path: "/", httpOnly: true, secure: true, sameSite: "Lax" });
    expect(cookies.find((c) => c.name === "__Host-gh_dev")).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax" });
    // Not in the app's cookies, not in any body a script could read, not in storage...
    expect(await page.evaluate(() => document.cookie)).toBe("");
    const read = (await Promise.all(bodies)).join("\n");
    expect(read).toContain('"access_token"'); // the login's body is among them
    expect(read).not.toContain(refresh!.value);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).toBe("{}{}");
    // ...and not even readable by a script of Gatehouse's own origin: HttpOnly.
    const authTab = await context.newPage();
    await authTab.goto(`${authBase}/health`);
    expect(await authTab.evaluate(() => document.cookie)).toBe("");

    await page.screenshot({ path: SCREENSHOT });
  });

  it("a reload keeps the session: the new page gets an access token from the cookie", async () => {
    const page = await openApp(await newContext());
    const { access_token: before } = await register(page);
    await page.reload();
    await page.waitForFunction(() => window.appReady === true);
    const after = await token(page);
    expect(after).toEqual(expect.any(String));
    expect(after).not.toBe(before);
    expect(await page.locator("#state").textContent()).toBe("signed in");
    expect((await page.evaluate(() => window.app.me())).status).toBe(200);
  });

  it("four tabs whose tokens expire together send exactly one refresh, and every tab gets a working token", async () => {
    const context = await newContext();
    const tabs = [await openApp(context), await openApp(context), await openApp(context), await openApp(context)];
    const { access_token: first } = await register(tabs[0]!);
    // The sign-in reached every tab over the channel: none needed a refresh of its own.
    for (const tab of tabs) await tab.waitForFunction((expected) => window.app.gh.getAccessToken().then((t) => t === expected), first);

    const mark = gatehouse.requests().length;
    for (const tab of tabs) await tab.evaluate((ms) => (window.app.clock.offset = ms), AGE_TOKENS_MS);
    const tokens = await Promise.all(tabs.map((tab) => token(tab)));

    const refreshes = await loggedRequests(mark, "/api/v1/auth/refresh", 1);
    expect(refreshes.map((line) => line.status)).toEqual([200]);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(first);
    for (const tab of tabs) expect((await tab.evaluate(() => window.app.me())).status).toBe(200);
  });

  it("a logout in one tab signs the other tabs out within a second", async () => {
    const context = await newContext();
    const tabs = [await openApp(context), await openApp(context), await openApp(context)];
    const { access_token } = await register(tabs[0]!);
    for (const tab of tabs)
      await tab.waitForFunction((expected) => window.app.gh.getAccessToken().then((t) => t === expected), access_token);

    await tabs[1]!.evaluate(() => window.app.gh.logout());
    await Promise.all(
      [tabs[0]!, tabs[2]!].map((tab) => tab.waitForFunction(() => window.app.signOuts.length > 0, null, { timeout: 1_000 })),
    );
    expect(await Promise.all(tabs.map((tab) => tab.evaluate(() => window.app.signOuts)))).toEqual([
      ["other_tab"],
      ["logout"],
      ["other_tab"],
    ]);
    expect(await tabs[0]!.locator("#state").textContent()).toBe("signed out (other_tab)");
    expect(await token(tabs[2]!)).toBeNull();
    expect((await context.cookies(authBase)).map((c) => c.name)).not.toContain("__Host-gh_rt");
  });

  it("a logout everywhere from another browser signs this browser's tabs out at their next gh.fetch", async () => {
    const context = await newContext();
    const tabs = [await openApp(context), await openApp(context)];
    const account = newAccount();
    const { access_token } = (await tabs[0]!.evaluate((a) => window.app.gh.register(a), account)) as Session;
    for (const tab of tabs)
      await tab.waitForFunction((expected) => window.app.gh.getAccessToken().then((t) => t === expected), access_token);
    expect((await tabs[0]!.evaluate(() => window.app.me())).status).toBe(200);
    expect(await tabs[0]!.locator("#state").textContent()).toBe("signed in");

    // Another device of the same user: its own browser (cookies, tabs, channel) and its own session.
    const elsewhere = await openApp(await newContext());
    await elsewhere.evaluate(({ email, password }) => window.app.gh.login({ email, password }), account);
    await elsewhere.evaluate(() => window.app.gh.logout({ everywhere: true }));

    // Nothing reached this browser: its access token still looks good to it...
    expect(await token(tabs[0]!)).toBe(access_token);
    expect(await tabs[0]!.evaluate(() => window.app.signOuts)).toEqual([]);
    // ...until its next request: refused, one refresh, refused too: the session is over, in both tabs.
    const mark = gatehouse.requests().length;
    expect(await tabs[0]!.evaluate(() => window.app.me())).toMatchObject({ status: 401, body: { code: "token_revoked" } });
    await tabs[1]!.waitForFunction(() => window.app.signOuts.length > 0, null, { timeout: 1_000 });
    expect(await Promise.all(tabs.map((tab) => tab.evaluate(() => window.app.signOuts)))).toEqual([["session_ended"], ["other_tab"]]);
    expect(await tabs[0]!.locator("#state").textContent()).toBe("signed out (session_ended)");
    expect(await tabs[1]!.locator("#state").textContent()).toBe("signed out (other_tab)");
    expect((await loggedRequests(mark, "/api/v1/auth/refresh", 1)).map((line) => line.status)).toEqual([401]);
    expect((await context.cookies(authBase)).map((c) => c.name)).not.toContain("__Host-gh_rt");
    expect(await token(tabs[0]!)).toBeNull();
    expect(await token(tabs[1]!)).toBeNull();
  });

  it("an administrator's deactivation signs the user's page out at its next gh.fetch", async () => {
    // The administrator works through the API from elsewhere (Node: no cookies, bearer mode).
    const api = `http://127.0.0.1:${gatehouse.port}`;
    const admin = newAccount();
    const registered = await fetch(`${api}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(admin),
    });
    expect(registered.status).toBe(201);
    const { access_token: adminToken } = (await registered.json()) as Session;
    gatehouse.grantSuperuser(admin.email);

    const page = await openApp(await newContext());
    const { user } = await register(page);
    expect((await page.evaluate(() => window.app.me())).status).toBe(200);
    const deactivated = await fetch(`${api}/api/v1/admin/users/${user.id}/deactivate`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(deactivated.status).toBe(204);

    const mark = gatehouse.requests().length;
    expect(await page.evaluate(() => window.app.me())).toMatchObject({ status: 401, body: { code: "invalid_token" } });
    expect(await page.evaluate(() => window.app.signOuts)).toEqual(["session_ended"]);
    expect(await page.locator("#state").textContent()).toBe("signed out (session_ended)");
    expect((await loggedRequests(mark, "/api/v1/auth/refresh", 1)).map((line) => line.status)).toEqual([401]);
    expect(await token(page)).toBeNull();
  });

  it("refuses an attacker site's forged refresh and logout requests; the victim stays signed in", async () => {
    const context = await newContext();
    const victim = await openApp(context);
    await register(victim);
    const mark = gatehouse.requests().length;

    // The attacker's page, in the victim's browser (same cookie jar).
    const attacker = await context.newPage();
    const sent: Request[] = [];
    attacker.on("request", (request) => {
      if (request.url().startsWith(authBase) && request.method() === "POST") sent.push(request);
    });
    await attacker.goto(`http://evil.localhost:${evil.port}/`);

    const outcomes = await attacker.evaluate(async (base) => {
      const attempt = (promise: Promise<unknown>) =>
        promise.then(
          () => "answered",
          () => "blocked",
        );
      const withHeader = { "Gatehouse-Token-Delivery": "cookie", "Content-Type": "application/json" };
      return {
        // What the client sends: a listed origin only, so the CORS preflight fails and the POST never leaves.
        refresh: await attempt(
          fetch(`${base}/api/v1/auth/refresh`, { method: "POST", credentials: "include", headers: withHeader, body: "{}" }),
        ),
        logout: await attempt(
          fetch(`${base}/api/v1/auth/logout?scope=all`, { method: "POST", credentials: "include", headers: withHeader }),
        ),
        // Simple requests do go out: without the header and (cross-site, SameSite=Lax) without the cookie. Whether
        // the attacker even gets the opaque answer is up to Cross-Origin-Resource-Policy; it cannot read it either way.
        refreshNoCors: await attempt(
          fetch(`${base}/api/v1/auth/refresh`, { method: "POST", mode: "no-cors", credentials: "include", body: "{}" }),
        ),
        logoutNoCors: await attempt(
          fetch(`${base}/api/v1/auth/logout?scope=all`, { method: "POST", mode: "no-cors", credentials: "include" }),
        ),
        // Nor may the attacker's origin load the client (not in CORS_ORIGINS).
        client: await new Promise((resolve) => {
          const script = Object.assign(document.createElement("script"), { type: "module", src: `${base}/client/v1/gatehouse.js` });
          script.onload = () => resolve("answered");
          script.onerror = () => resolve("blocked");
          document.head.append(script);
        }),
      };
    }, authBase);
    expect(outcomes).toMatchObject({ refresh: "blocked", logout: "blocked", client: "blocked" });

    // A plain HTML form posted across sites (a top-level navigation).
    for (const path of ["/api/v1/auth/logout?scope=all", "/api/v1/auth/refresh"]) {
      await attacker.goto(`http://evil.localhost:${evil.port}/`);
      const navigation = attacker.waitForNavigation();
      await attacker.evaluate((action) => {
        const form = Object.assign(document.createElement("form"), { method: "POST", action, enctype: "text/plain" });
        form.append(Object.assign(document.createElement("input"), { name: '{"refresh_token":"', value: '"}' }));
        document.body.append(form);
        form.submit();
      }, `${authBase}${path}`);
      const response = await navigation;
      expect(response?.status(), path).toBeGreaterThanOrEqual(400);
    }

    // No forged request carried the session cookie (Playwright lists even the two the preflight stopped)...
    expect(sent.length).toBe(6);
    for (const request of sent) expect((await request.allHeaders()).cookie ?? "").not.toContain("__Host-gh_rt");
    // ...four reached Gatehouse (the two with the header never left: their preflight got no CORS answer)...
    const refreshes = await loggedRequests(mark, "/api/v1/auth/refresh", 2);
    const logouts = gatehouse
      .requests()
      .slice(mark)
      .filter((line) => line.route === "/api/v1/auth/logout");
    const posts = [...refreshes, ...logouts].filter((line) => line.method === "POST");
    expect(posts.length).toBe(4);
    // ...and it refused every one of them.
    for (const line of posts) expect(line.status, JSON.stringify(line)).toBeGreaterThanOrEqual(400);

    // The victim's session survived: a refresh (tokens aged) and an authenticated call still work.
    await victim.evaluate((ms) => (window.app.clock.offset = ms), AGE_TOKENS_MS);
    expect(await token(victim)).toEqual(expect.any(String));
    expect((await victim.evaluate(() => window.app.me())).status).toBe(200);
    expect(await victim.evaluate(() => window.app.signOuts)).toEqual([]);
  });
});
