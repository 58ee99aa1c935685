// Node-side plumbing of the Chromium journeys: the Gatehouse dev server (with its request log), the
// two small sites (the app and an attacker) and the browser. In .mjs like test/node/dev-server.mjs:
// the project's type check has no @types/node; harness.d.mts types it for the tests.
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { chromium } from "playwright-core";
import { runNodeScript } from "../node/admin-run.mjs";
import { freePort, makeTempDir, removeDir, startDev, waitUntilHealthy } from "../node/dev-server.mjs";

/** Where Chromium is: CHROME_PATH, else the Debian package's. The journeys never skip: no browser, no pass. */
function chromiumPath() {
  const path = process.env.CHROME_PATH || "/usr/bin/chromium";
  if (!existsSync(path)) {
    throw new Error(
      `No Chromium at ${path}. Install it (apt-get install -y chromium) or point CHROME_PATH at a Chrome or Chromium executable.`,
    );
  }
  return path;
}

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium() {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

/**
 * Browser requests carry no CF-Connecting-IP, so every journey shares one per-IP bucket: raise the
 * per-IP limits the journeys spend (names from src/config/rate-limits.ts), not the defaults.
 */
const RATE_LIMITS = {
  login_ip_minute: { limit: 1000, window: 60 },
  login_ip_hour: { limit: 10000, window: 3600 },
  register_ip_hour: { limit: 10000, window: 3600 },
  refresh_ip_minute: { limit: 10000, window: 60 },
  // The journeys sign in with passkeys more often than 10 a minute from one address.
  passkey_ip_minute: { limit: 1000, window: 60 },
};

/**
 * `npm run dev` on a free port with its own state, CORS_ORIGINS set to the app's origin and 60 s
 * access tokens; collects the worker's request log lines from its stdout. `vars` adds variables
 * of a configuration the journeys of one file need (`MFA_REQUIRED`…), as `--var NAME:value`.
 * @param {{ appOrigin: string, vars?: Record<string, string> }} options
 */
export async function startGatehouse({ appOrigin, vars = {} }) {
  const port = await freePort();
  const persistDir = makeTempDir("gatehouse-e2e-");
  /** @type {Record<string, unknown>[]} */
  const requests = [];
  let pending = "";
  const server = startDev(
    [
      ...["--port", String(port), "--persist-to", persistDir],
      ...["--var", `CORS_ORIGINS:${appOrigin}`],
      ...["--var", `RATE_LIMITS:${JSON.stringify(RATE_LIMITS)}`],
      ...["--var", "ACCESS_TOKEN_TTL_SECONDS:60"],
      // Every request's line, not only refusals (dev mode's default): the journeys read them.
      ...["--var", "REQUEST_LOG:all"],
      ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    ],
    {
      onOutput(text) {
        const lines = (pending + text).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const start = line.indexOf('{"level"');
          if (start === -1) continue;
          try {
            const entry = JSON.parse(line.slice(start));
            if (entry.event === "request") requests.push(entry);
          } catch {
            // Not one of the worker's lines.
          }
        }
      },
    },
  );
  try {
    await waitUntilHealthy(`http://127.0.0.1:${port}`, server, 120_000);
  } catch (error) {
    await server.stop();
    removeDir(persistDir);
    throw error;
  }
  return {
    port,
    /** The worker's request log lines so far (`{level, event: "request", method, route, status, …}`). */
    requests: () => [...requests],
    output: () => server.output(),
    /**
     * `npm run admin -- grant <email> --persist-to <this server's state>`: the way an operator makes
     * the first administrator; throws with the script's output unless it succeeds.
     * @param {string} email
     */
    grantSuperuser(email) {
      const run = runNodeScript("scripts/admin.mjs", ["grant", email, "--persist-to", persistDir]);
      if (run.status !== 0) throw new Error(`npm run admin -- grant failed:\n${run.stdout}\n${run.stderr}`);
    },
    async stop() {
      await server.stop();
      removeDir(persistDir);
    },
  };
}

/**
 * A one-page site on 127.0.0.1 at a free port: `html()` at `/` (rendered per request, so it may
 * name servers started after this one), 404 elsewhere.
 * @param {() => string} html
 */
export async function startSite(html) {
  const port = await freePort();
  const server = createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/" || req.url?.startsWith("/?"))) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(html());
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(undefined)));
  return {
    port,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * One shipped catalogue (assets/locales/<locale>.json), flattened to dotted keys: the words a
 * journey in that language looks for.
 * @param {string} locale
 * @returns {Record<string, string>}
 */
export function messages(locale) {
  /** @type {Record<string, string>} */
  const flat = {};
  const walk = (/** @type {Record<string, unknown>} */ tree, /** @type {string} */ prefix) => {
    for (const [key, value] of Object.entries(tree)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (typeof value === "string") flat[path] = value;
      else if (value && typeof value === "object" && "other" in value && typeof value.other === "string") flat[path] = value.other;
      else walk(/** @type {Record<string, unknown>} */ (value), path);
    }
  };
  walk(JSON.parse(readFileSync(new URL(`../../assets/locales/${locale}.json`, import.meta.url), "utf8")), "");
  return flat;
}
