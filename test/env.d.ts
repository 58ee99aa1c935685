import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      /** Test-only binding from vitest.config.ts: the D1 migrations applied by test/setup.ts. */
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
