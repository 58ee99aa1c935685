import type { Page } from "playwright-core";
import { createServer, type ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../node/dev-server.mjs";
import { expectAccessible, journeySuite } from "./pages";

/**
 * examples/react-spa as a developer runs it: its own vite.config.ts, served by Vite's dev server
 * (React's development build, StrictMode on) at app.example.localhost, beside Gatehouse at
 * auth.example.localhost (same site: cookie mode). The app is pointed at this run's Gatehouse the
 * way its README says, VITE_GATEHOUSE_URL, and Gatehouse allows the app's origin (CORS_ORIGINS).
 */

const PASSWORD = "correct horse battery staple 42";

let vitePort = 0;
let vite: ViteDevServer | undefined;
const app = () => `http://app.example.localhost:${vitePort}`;

const suite = journeySuite({
  before: async () => {
    vitePort = await freePort();
  },
  // The app's origin: CORS, the cookie-mode CSRF check and return_to all follow this one list.
  vars: () => ({ CORS_ORIGINS: app() }),
});
const auth = () => `http://auth.example.localhost:${suite.gatehouse().port}`;

// After the suite's own beforeAll: Gatehouse's port is known, and the app is built to call it.
beforeAll(async () => {
  vite = await createServer({
    configFile: "examples/react-spa/vite.config.ts",
    server: { port: vitePort, strictPort: true },
    define: { "import.meta.env.VITE_GATEHOUSE_URL": JSON.stringify(auth()) },
    logLevel: "warn",
    clearScreen: false,
  });
  await vite.listen();
}, 60_000);

afterAll(async () => {
  await vite?.close();
});

let accounts = 0;
/** A fresh account through the API (Node, bearer mode): the journeys never share one. */
async function registerAccount() {
  const account = { email: `react.${Date.now().toString(36)}.${++accounts}@example.com`, password: PASSWORD, full_name: "Ada Lovelace" };
  const res = await fetch(`http://127.0.0.1:${suite.gatehouse().port}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(account),
  });
  expect(res.status).toBe(201);
  return account;
}

async function openApp(page: Page, state: string) {
  await page.goto(`${app()}/`);
  await expectStatus(page, state);
}

async function expectStatus(page: Page, state: string) {
  await page.getByRole("status").filter({ hasText: state }).waitFor();
}

/** The refreshes Gatehouse has answered so far. */
function refreshes(): number {
  return suite
    .gatehouse()
    .requests()
    .filter((line) => line.method === "POST" && line.route === "/api/v1/auth/refresh").length;
}

describe("examples/react-spa in Chromium", () => {
  it("signs in on the hosted page and comes back signed in, stays signed in across a reload, and signs out", async () => {
    const account = await registerAccount();
    const page = await suite.newPage();
    await openApp(page, "Signed out.");
    await expectAccessible(page);

    await page.getByRole("link", { name: "Sign in" }).click();
    await page.waitForURL(`${auth()}/login?return_to=${encodeURIComponent(`${app()}/`)}`);
    await page.getByLabel("Email or username", { exact: true }).fill(account.email);
    await page.getByLabel("Password", { exact: true }).fill(account.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${app()}/`);
    const signedIn = `Signed in as Ada Lovelace <${account.email}>`;
    await expectStatus(page, signedIn);
    await expectAccessible(page);

    // A reload keeps the session: the app's client trades Gatehouse's HttpOnly cookie for a token,
    // once, although StrictMode runs the provider's effect twice.
    const before = refreshes();
    await page.reload();
    await expectStatus(page, signedIn);
    expect(refreshes() - before).toBe(1);
    // No token reaches the page's storage: the refresh token stays in Gatehouse's cookie.
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, ""]);

    await page.getByRole("button", { name: "Sign out" }).click();
    await expectStatus(page, "Signed out.");
    await page.reload();
    await expectStatus(page, "Signed out.");
  });

  it("the inline form: Gatehouse's refusal in its words, then a sign-in; a sign-out in another tab reaches the page", async () => {
    const account = await registerAccount();
    const page = await suite.newPage();
    await openApp(page, "Signed out.");

    await page.getByLabel("Email").fill(account.email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in here" }).click();
    await page.getByRole("alert").filter({ hasText: "Email or password is incorrect." }).waitFor();
    await expectAccessible(page);

    await page.getByLabel("Password").fill(account.password);
    await page.getByRole("button", { name: "Sign in here" }).click();
    await expectStatus(page, `Signed in as Ada Lovelace <${account.email}>`);
    expect(await page.getByRole("alert").count()).toBe(0);

    // A second tab of the same browser shares the session, and its sign-out ends it in both.
    const other = await page.context().newPage();
    await openApp(other, `Signed in as Ada Lovelace <${account.email}>`);
    await other.getByRole("button", { name: "Sign out" }).click();
    await expectStatus(other, "Signed out.");
    await expectStatus(page, "Signed out.");
  });
});
