import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, vi } from "vitest";

// Idempotent: with `isolate: false` every test file shares one worker and one set of storage.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Test files share one isolate, so a spy or a pinned clock must never outlive its test.
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});
