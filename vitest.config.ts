import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { GATEHOUSE_MODULES } from "./examples/site-api/test/build-gatehouse.mjs";
import { preferRamTmpdir } from "./test/ram-tmpdir.mjs";

/** Test files whose changes are global (see the workers-global project): run alone. */
const GLOBAL_STATE_FILES = ["test/last-superuser.test.ts"];

/**
 * `npm test`, four projects: `workers` runs the worker's tests inside workerd against local D1, KV
 * and Durable Objects, and `workers-global` the few that must run alone, after it; `examples` runs examples/site-api's tests inside workerd with Gatehouse beside
 * it; `node` runs the tests of the Node scripts (scripts/) and of the browser client on the host.
 * Nothing here starts `wrangler dev`: tests that need a real dev server (or wrangler's local D1) are
 * test/dev, `npm run test:dev` (vitest.dev.config.ts); the Chromium journeys are test/e2e.
 */
export default defineConfig(async () => {
  // The workerd storage of both workerd projects in memory where the machine allows it (see the file).
  preferRamTmpdir();
  const migrations = await readD1Migrations("migrations");
  // The worker under test as wrangler.toml declares it, with the settings the suite relies on (a new
  // plugin per project: a plugin instance belongs to one).
  const workersPlugin = () =>
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: migrations,
          DEV_OUTBOX: "true",
          // Tests read the request line of successful requests too (dev mode's default logs only errors).
          REQUEST_LOG: "all",
          CORS_ORIGINS: "https://app.example.com",
          CORS_ALLOW_CREDENTIALS: "true",
          PUBLIC_URL: "https://auth.example.com",
          JWT_ISSUER: "https://auth.example.com",
          // The configuration's minimum, so the suite hashes fast; test/passwords.test.ts
          // pins the production default (100,000, the Workers cap) with the variable unset.
          PBKDF2_ITERATIONS: "10000",
          // The spraying monitor (one object for the whole suite) reads this from its own env.
          // Tests move the clock (fake timers), so failures of different tests land in the
          // same simulated minute and would look like spraying; test/attack-spraying.test.ts
          // stages attacks with the default numbers passed to the monitor explicitly. Under
          // real time the suite's own failed logins peak below the default of 60 a minute.
          RATE_LIMITS: JSON.stringify({ spraying: { minimum_per_minute: 1_000_000 } }),
        },
      },
    });
  return {
    test: {
      // Keep warnings and errors visible; the info lines (one per request, audit rows) would drown
      // them. A root-only option: vitest ignores it inside a project.
      onConsoleLog: (log: string) => !log.includes('"level":"info"'),
      // Two workers, whatever vitest's default (cores - 1: one on the two-core machines this runs on,
      // which ran every file of every project one after another). Most of a test's time is waiting
      // (Durable Object and D1 round trips, after-response work), so a second workerd fills the gaps:
      // the workers project took about 100 s with one and 70 s with two on a loaded two-core machine.
      maxWorkers: 2,
      projects: [
        {
          plugins: [workersPlugin()],
          test: {
            name: "workers",
            include: ["test/**/*.test.ts"],
            // Host-side tests; the dev-server tests (test/dev) and the Chromium journeys (test/e2e) have
            // their own configs, vitest.dev.config.ts and vitest.e2e.config.ts.
            exclude: ["test/node/**", "test/client/**", "test/dev/**", "test/e2e/**", ...GLOBAL_STATE_FILES],
            setupFiles: ["./test/setup.ts"],
            // The loopback sign-in providers the external-provider tests drive (scripts/fake-oidc.mjs).
            globalSetup: ["./test/oauth-fakes.setup.mjs"],
            testTimeout: 30_000,
            // Each worker (one workerd, one set of D1/KV/Durable Object storage; `maxWorkers` of them)
            // runs file after file instead of one workerd per file: about 10 s of a 25 s run was
            // start-up. Safe because tests never assume empty storage, nor any particular file beside
            // them: emails and client IPs come from counters in test/helpers.ts that stay unique across
            // files (and reruns), assertions are scoped to the test's own user or IP, and
            // test/setup.ts restores spies and clocks after each test.
            isolate: false,
          },
        },
        {
          // The files that change state every test shares (which accounts are superusers), alone and
          // after every other project (a later group order waits for the earlier ones to finish):
          // beside them an administrator of another file was refused now and then.
          plugins: [workersPlugin()],
          test: {
            name: "workers-global",
            include: GLOBAL_STATE_FILES,
            setupFiles: ["./test/setup.ts"],
            testTimeout: 30_000,
            sequence: { groupOrder: 1 },
          },
        },
        {
          // examples/site-api inside workerd, with Gatehouse's production bundle beside it as the
          // worker its GATEHOUSE service binding names. The bundle is built by the global setup
          // (wrangler deploy --dry-run); Gatehouse's D1 is also bound to the tests (GATEHOUSE_DB)
          // so they can apply its migrations.
          plugins: [
            cloudflareTest({
              // Its deployed configuration: the GATEHOUSE service binding (the top level is local development).
              wrangler: { configPath: "./examples/site-api/wrangler.toml", environment: "production" },
              miniflare: {
                bindings: { TEST_MIGRATIONS: migrations },
                d1Databases: { GATEHOUSE_DB: "gatehouse-examples-db" },
                workers: [
                  {
                    name: "gatehouse",
                    modules: GATEHOUSE_MODULES,
                    compatibilityDate: "2026-10-23",
                    compatibilityFlags: [],
                    d1Databases: { DB: "gatehouse-examples-db" },
                    kvNamespaces: ["AUTH_KV"],
                    durableObjects: { RATE_LIMITER: { className: "RateLimiter", useSQLite: true } },
                    queueProducers: { WEBHOOKS: { queueName: "gatehouse-webhooks" } },
                    // The message catalogues (assets/locales), as wrangler.toml's [assets] binds them.
                    assets: { directory: "./assets", binding: "ASSETS", routerConfig: { has_user_worker: true } },
                    bindings: {
                      JWT_ISSUER: "https://auth.example.com",
                      PUBLIC_URL: "https://auth.example.com",
                      JWT_AUDIENCE: "gatehouse",
                      DEV_OUTBOX: "true",
                      PBKDF2_ITERATIONS: "10000",
                    },
                  },
                ],
              },
            }),
          ],
          test: {
            name: "examples",
            include: ["examples/**/test/**/*.test.ts"],
            globalSetup: ["./examples/site-api/test/build-gatehouse.mjs"],
            setupFiles: ["./examples/site-api/test/setup.ts"],
            testTimeout: 30_000,
          },
        },
        {
          // The Node scripts' logic (no wrangler: their runs against a real dev server are test/dev), and
          // the browser client (src/client) against Node's Web Locks and BroadcastChannel.
          test: {
            name: "node",
            include: ["test/node/**/*.test.ts", "test/client/**/*.test.ts"],
            environment: "node",
            // One process for all of them instead of one per file (about 1 s each): the files share no
            // state (globals they stub are restored after each test).
            isolate: false,
          },
        },
      ],
    },
  };
});
