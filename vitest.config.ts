import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Two projects: `workers` runs the worker's tests inside workerd against local D1, KV and Durable
 * Objects; `node` runs the tests of the Node scripts (scripts/) and of the browser client on the host.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("migrations");
  return {
    test: {
      // Keep warnings and errors visible; the info lines (one per request, audit rows) would drown
      // them. A root-only option: vitest ignores it inside a project.
      onConsoleLog: (log: string) => !log.includes('"level":"info"'),
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  DEV_OUTBOX: "true",
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
            }),
          ],
          test: {
            name: "workers",
            include: ["test/**/*.test.ts"],
            // Host-side tests; the Chromium journeys (test/e2e) have their own config, vitest.e2e.config.ts.
            exclude: ["test/node/**", "test/client/**", "test/e2e/**"],
            setupFiles: ["./test/setup.ts"],
            testTimeout: 30_000,
            // One worker (one workerd, one set of D1/KV/Durable Object storage) for every file instead
            // of one per file: about 10 s of a 25 s run was start-up. Safe because tests never assume
            // empty storage: emails and client IPs come from counters in test/helpers.ts that stay
            // unique across files (and reruns), assertions are scoped to the test's own user or IP,
            // and test/setup.ts restores spies and clocks after each test.
            isolate: false,
          },
        },
        {
          // The Node scripts, and the browser client (src/client) against Node's Web Locks and BroadcastChannel.
          test: { name: "node", include: ["test/node/**/*.test.ts", "test/client/**/*.test.ts"], environment: "node" },
        },
      ],
    },
  };
});
