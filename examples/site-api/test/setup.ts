import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { D1Migration } from "@cloudflare/vitest-plugin";

// Gatehouse runs beside this worker (vitest.config.ts, project "examples"); its D1 database is
// bound here too, as GATEHOUSE_DB, only so its migrations can be applied before the tests.
const { GATEHOUSE_DB, TEST_MIGRATIONS } = env as unknown as { GATEHOUSE_DB: D1Database; TEST_MIGRATIONS: D1Migration[] };
await applyD1Migrations(GATEHOUSE_DB, TEST_MIGRATIONS);
