import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("migrations");
  return {
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
      setupFiles: ["./test/setup.ts"],
      testTimeout: 30_000,
      // Keep warnings and errors visible; the audit/info lines of every request would drown them.
      onConsoleLog: (log: string) => !log.includes('"level":"info"'),
    },
  };
});
