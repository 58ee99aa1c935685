#!/usr/bin/env node
// `npm run test:tutorial`: does exactly what the README's "Your site in ten minutes" says, in a fresh
// copy of the repository (no node_modules, no local state), and fails unless a browser ends up on
// the React page signed in. The commands come from the README itself: every ```sh block whose first
// line starts with `# tutorial` is one terminal; its commands run in order, and the last one of each
// terminal is a server that keeps running, as it would in the reader's terminal. The browser steps
// follow the numbered list under the blocks (Sign in → Create an account → back, signed in → reload).
// Needs Chromium (CHROME_PATH or /usr/bin/chromium), ports 8787 and 5173 free, and the npm registry.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { launchChromium } from "../test/e2e/harness.mjs";
import { pollUntil } from "../test/node/dev-server.mjs";
import { localFetch } from "./local-fetch.mjs";
import { readmeTerminals } from "./tutorial-blocks.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const SITE = "http://app.example.localhost:5173";
const AUTH = "http://auth.example.localhost:8787";
const started = Date.now();
const say = (/** @type {string} */ text) => console.log(`[tutorial ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}`);

const terminals = readmeTerminals(join(ROOT, "README.md"));
if (terminals.length !== 2) throw new Error(`expected the README's two tutorial terminals, found ${terminals.length}`);

// A fresh clone: the tracked tree as it is, without what an install or a dev server leaves behind.
const dir = mkdtempSync(join(tmpdir(), "gatehouse-tutorial-"));
const SKIP = new Set(["node_modules", ".wrangler", ".git", ".dev.vars", "test-results"]);
cpSync(ROOT, dir, {
  recursive: true,
  filter: (path) =>
    !relative(ROOT, path)
      .split(/[\\/]/)
      .some((part) => SKIP.has(part)),
});
say(`fresh copy in ${dir}`);

/** @type {import("node:child_process").ChildProcess[]} */
const servers = [];
/** @type {Map<import("node:child_process").ChildProcess, string>} */
const output = new Map();
let browser;
try {
  for (const [index, commands] of terminals.entries()) {
    const foreground = commands.slice(0, -1);
    const server = /** @type {string} */ (commands.at(-1));
    for (const command of foreground) {
      say(`terminal ${index + 1}: ${command}`);
      const run = spawnSync(command, { cwd: dir, shell: true, encoding: "utf8", env: childEnv(), maxBuffer: 64 * 1024 * 1024 });
      if (run.status !== 0) throw new Error(`\`${command}\` failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
    }
    say(`terminal ${index + 1}: ${server} (keeps running)`);
    const child = spawn(server, { cwd: dir, shell: true, env: childEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
    servers.push(child);
    output.set(child, "");
    const keep = (/** @type {Buffer} */ chunk) => output.set(child, ((output.get(child) ?? "") + chunk.toString()).slice(-20_000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }
  await waitFor(`${AUTH}/health`, "Gatehouse (terminal 1)", /** @type {import("node:child_process").ChildProcess} */ (servers[0]));
  await waitFor(SITE, "the React site (terminal 2)", /** @type {import("node:child_process").ChildProcess} */ (servers[1]));
  say("both servers answer; now the browser steps");

  browser = await launchChromium();
  const page = await browser.newPage();
  const failures = /** @type {string[]} */ ([]);
  page.on("pageerror", (error) => failures.push(String(error)));
  // 1. Open the site and press "Sign in".
  await page.goto(SITE);
  await page.getByRole("link", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${AUTH}/login**`);
  // 2. "Create an account" on Gatehouse's page, and register.
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.waitForURL(`${AUTH}/register**`);
  const email = `reader-${Date.now()}@example.com`;
  await page.getByLabel("Full name").fill("Tutorial Reader");
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("quiet garden lamp 2026");
  await page.getByRole("button", { name: "Create account" }).click();
  // 3. Back on the React page, signed in; still after a reload.
  await page.waitForURL(`${SITE}/**`);
  await page.getByText(`Signed in as Tutorial Reader <${email}>`).waitFor({ timeout: 15_000 });
  await page.reload();
  await page.getByText(`Signed in as Tutorial Reader <${email}>`).waitFor({ timeout: 15_000 });
  // The dev outbox the tutorial points at has the verification mail.
  const outbox = await localFetch(`${AUTH}/api/v1/dev/outbox?to=${encodeURIComponent(email)}`);
  const messages = /** @type {{ kind: string }[]} */ (JSON.parse(outbox.text).messages);
  if (!messages.some((m) => m.kind === "email_verification")) throw new Error("no verification mail in the dev outbox");
  if (failures.length) throw new Error(`script errors on the pages: ${failures.join("; ")}`);
  say(`signed in as ${email} on ${SITE}, and still after a reload: the tutorial works as written`);
} catch (error) {
  const page = browser?.contexts()[0]?.pages()[0];
  if (page)
    console.error(`--- the browser was at ${page.url()}, showing:\n${(await page.innerText("body").catch(() => "")).slice(0, 3000)}`);
  for (const [child, text] of output) console.error(`--- output of \`${child.spawnargs.at(-1)}\` (last 20 kB):\n${text}`);
  throw error;
} finally {
  await browser?.close();
  for (const child of servers) stop(child);
  rmSync(dir, { recursive: true, force: true });
}

/** The reader's environment, minus what `npm run` exported into ours (a nested npm must start clean). */
function childEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("npm_")));
  return { ...env, WRANGLER_SEND_METRICS: "false" };
}

/**
 * Waits until `url` answers (any status); fails when the server exits or two minutes pass (its
 * output is printed by the caller).
 * @param {string} url @param {string} what @param {import("node:child_process").ChildProcess} server
 */
function waitFor(url, what, server) {
  return pollUntil(
    async () => {
      if (server.exitCode !== null) throw new Error(`${what} exited (${server.exitCode})`);
      return localFetch(url).then(
        () => true,
        () => undefined,
      );
    },
    { what: `${what} at ${url}`, timeoutMs: 120_000, intervalMs: 500 },
  );
}

/** Ends a server and everything it started (npm → node → wrangler → workerd share its process group). */
function stop(/** @type {import("node:child_process").ChildProcess} */ child) {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
}
