import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Two projects: `workers` runs the worker's tests inside workerd against local D1, KV and Durable
 * Objects; `node` runs the tests of the Node scripts (scripts/) on the host.
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
                },
              },
            }),
          ],
          test: {
            name: "workers",
            include: ["test/**/*.test.ts"],
            exclude: ["test/node/**"],
            setupFiles: ["./test/setup.ts"],
            testTimeout: 30_000,
            // Keep warnings and errors visible; the audit/info lines of every request would drown them.
            onConsoleLog: (log: string) => !log.includes('"level":"info"'),
          },
        },
        {
          test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node" },
        },
      ],
    },
  };
});
