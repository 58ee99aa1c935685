import { defineConfig } from "vitest/config";

/**
 * `npm run test:e2e`: the Chromium journeys (test/e2e), apart from `npm test` because they start
 * `npm run dev` and a browser. Chromium is /usr/bin/chromium or CHROME_PATH; without one the run
 * fails, it never skips.
 */
export default defineConfig({
  test: {
    name: "e2e",
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    // One dev server and one browser for the file; journeys run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
