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
