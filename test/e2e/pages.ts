import axe from "axe-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { launchChromium, startGatehouse, type Gatehouse } from "./harness.mjs";
/**
 * The two sites of the journeys. The app (app.example.localhost) is same-site with Gatehouse
 * (auth.example.localhost) and loads the client straight from the worker; the attacker
 * (evil.localhost) is cross-site. The test drives both through `window`.
 */

/** A small app that signs in with the Gatehouse client and shows who is signed in. */
export function appPage(authBase: string): string {
  const clientUrl = `${authBase}/client/v1/gatehouse.js`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Example app</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 3rem auto; max-width: 40rem; color: #1d2433; }
  .card { border: 1px solid #d0d7e2; border-radius: 8px; padding: 1rem 1.5rem; }
  #state { font-weight: 600; }
  code { background: #f1f4f9; padding: 0 0.25rem; border-radius: 4px; }
</style>
</head>
<body>
<h1>Example app</h1>
<div class="card">
  <p>Signs in with Gatehouse at <code>${authBase}</code></p>
  <p>Session: <span id="state">loading the client…</span></p>
  <p>User: <span id="user">—</span></p>
</div>
<script type="module">
  import { createGatehouse } from ${JSON.stringify(clientUrl)};
  const authBase = ${JSON.stringify(authBase)};
  // The test moves this clock to make access tokens count as expired without waiting.
  const clock = { offset: 0 };
  const gh = createGatehouse({ baseUrl: authBase, now: () => Date.now() + clock.offset });
  const signOuts = [];
  const show = (state, user) => {
    document.getElementById("state").textContent = state;
    document.getElementById("user").textContent = user ?? "—";
  };
  gh.onSignOut((event) => {
    signOuts.push(event.reason);
    show("signed out (" + event.reason + ")");
  });
  async function me() {
    const res = await gh.fetch(authBase + "/api/v1/users/me");
    const body = await res.json();
    if (res.ok) show("signed in", body.full_name + " <" + body.email + ">");
    return { status: res.status, body };
  }
  window.app = { gh, clock, signOuts, me };
  // On load, as a real app would: is there a session behind the cookie?
  if (await gh.getAccessToken()) await me();
  else show("signed out");
  window.appReady = true;
</script>
</body>
</html>`;
}

/** The attacker's page: nothing of its own; the test runs the forgeries from it. */
export function evilPage(): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Win a prize</title></head>
<body><h1>Click here to win</h1></body>
</html>`;
}

/** axe-core, injected as a DevTools evaluation (the CSP stays on), on the page as it is. */
export async function expectAccessible(page: Page) {
  await page.evaluate(axe.source);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    page.url(),
  ).toEqual([]);
}

declare global {
  interface Window {
    axe: typeof axe;
  }
}

/**
 * One Chromium and one dev server of its own for a journey file, started before its tests and
 * stopped after them; `newPage()` opens a tab in a fresh context (English) whose console errors
 * fail the test that made them. `vars` are the dev server's extra variables; `before`/`after` run
 * outside services (fakes) around it.
 */
export function journeySuite(options: { vars?: () => Record<string, string>; before?: () => Promise<void>; after?: () => Promise<void> }): {
  base: () => string;
  gatehouse: () => Gatehouse;
  newPage: () => Promise<Page>;
} {
  let browser: Browser | undefined;
  let gatehouse: Gatehouse | undefined;
  const contexts: BrowserContext[] = [];
  const consoleErrors: string[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
    await options.before?.();
    gatehouse = await startGatehouse({ appOrigin: "http://app.example.localhost:9", vars: options.vars?.() ?? {} });
  }, 180_000);
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await gatehouse?.stop();
    await options.after?.();
  }, 60_000);
  afterEach(() => {
    expect(consoleErrors.splice(0)).toEqual([]);
  });
  return {
    base: () => `http://localhost:${gatehouse!.port}`,
    gatehouse: () => gatehouse!,
    async newPage() {
      const context = await browser!.newContext({ locale: "en-US" });
      contexts.push(context);
      const page = await context.newPage();
      page.on("console", (message) => {
        if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
          consoleErrors.push(`${page.url()}: ${message.text()}`);
      });
      return page;
    },
  };
}
