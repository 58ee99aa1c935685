import { defineConfig } from "vitest/config";
import { preferRamTmpdir } from "./test/ram-tmpdir.mjs";

/**
 * `npm run test:dev`: the tests that run the real thing on the host (test/dev): `npm run dev`, the
 * bench's own `wrangler dev`, `npm run admin` against wrangler's local D1. Apart from `npm test`
 * because every start of wrangler dev costs 10-20 s of build and workerd start-up on two cores; the
 * logic of the same scripts is unit-tested in test/node, within `npm test`.
 *
 * One dev server for the files that need only that (test/dev/global-setup.mjs); a file whose server
 * must differ starts its own (attack-dev: the "under attack" mode is deployment-wide). One file at a
 * time: each starts processes, and on a loaded machine parallel wrangler starts time out. Timeouts
 * are generous for the same reason; no test waits on a fixed sleep, every wait is a bounded condition.
 */
// The servers' --persist-to directories (and wrangler's local D1) are temporary directories: in
// memory where the machine has /dev/shm, as for npm test (test/ram-tmpdir.mjs).
preferRamTmpdir();

export default defineConfig({
  test: {
    name: "dev",
    include: ["test/dev/**/*.test.ts"],
    environment: "node",
    globalSetup: ["./test/dev/global-setup.mjs"],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
