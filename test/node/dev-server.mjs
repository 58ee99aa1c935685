// Node-side plumbing for the tests that run `npm run dev` (test/dev, `npm run test:dev`) and the Node
// scripts' tests (test/node). It lives in .mjs because the project's type check runs with the Workers
// types only (no @types/node); dev-server.d.mts types it.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

/** A port nothing listens on right now: the OS picks one, we release it. */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => done(port));
    });
  });
}

/** @param {string} prefix */
export function makeTempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Writes `text` to `name` in a fresh temporary directory; returns the file's path.
 * @param {string} name
 * @param {string} text
 */
export function writeTempFile(name, text) {
  const path = join(makeTempDir("gatehouse-file-"), name);
  writeFileSync(path, text);
  return path;
}

/** @param {string} dir */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** @param {string} dir every file under `dir`, relative to it */
export function listFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1));
}

/**
 * Runs `node scripts/dev.mjs <args>` in its own process group, so that stopping it also stops
 * npx, wrangler and workerd beneath it. `onOutput` sees all of stdout and stderr as it arrives
 * (the worker's log lines are on stdout).
 * @param {string[]} args
 * @param {{ onOutput?: (text: string) => void }} [options]
 */
export function startDev(args, options = {}) {
  return startNode(["scripts/dev.mjs", ...args], options);
}

/**
 * `wrangler dev` of another worker of this repository (an example), with the same stop.
 * @param {string[]} args
 * @param {{ onOutput?: (text: string) => void }} [options]
 */
export function startWrangler(args, options = {}) {
  return startNode(["node_modules/wrangler/bin/wrangler.js", "dev", ...args], options);
}

/**
 * A Node script of the project in a process group of its own.
 * @param {string[]} args
 * @param {{ onOutput?: (text: string) => void }} options
 */
function startNode(args, options) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const keep = (/** @type {Buffer} */ chunk) => {
    output = (output + chunk).slice(-20_000);
    options.onOutput?.(chunk.toString());
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const group = /** @type {number} */ (child.pid);

  return {
    output: () => output,
    /** SIGTERM to the group, SIGKILL after 10 s; resolves once no process of the group is left. */
    async stop() {
      const alive = () => {
        try {
          process.kill(-group, 0);
          return true;
        } catch {
          return false;
        }
      };
      const signal = (/** @type {NodeJS.Signals} */ name) => alive() && process.kill(-group, name);
      signal("SIGTERM");
      for (let waited = 0; alive(); waited += 100) {
        if (waited === 10_000) signal("SIGKILL");
        if (waited > 20_000) throw new Error(`process group ${group} survived SIGKILL`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/**
 * Resolves once `${base}/health` answers 200; throws with the server's output after `timeoutMs`.
 * @param {string} base
 * @param {{ output(): string }} server
 */
export async function waitUntilHealthy(base, server, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // wrangler holds requests while it (re)builds; a bounded wait keeps the deadline meaningful.
    const status = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`no 200 from ${base}/health within ${timeoutMs / 1000} s; output:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Polls `check` until it returns something other than undefined, and returns that; throws after
 * `timeoutMs` with `what` and `detail()` (e.g. the server's output). For conditions only observable
 * from outside (a log line, a mode a request reveals): a bounded wait on the condition itself, never
 * a fixed sleep standing in for it.
 * @template T
 * @param {() => T | undefined | Promise<T | undefined>} check
 * @param {{ what: string, timeoutMs?: number, intervalMs?: number, detail?: () => string }} options
 * @returns {Promise<T>}
 */
export async function pollUntil(check, { what, timeoutMs = 60_000, intervalMs = 250, detail = () => "" }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${detail()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The last `chars` characters of a text file (a server's log), or "" when there is none.
 * @param {string} file
 */
export function tailOf(file, chars = 5_000) {
  try {
    return readFileSync(file, "utf8").slice(-chars);
  } catch {
    return "";
  }
}
