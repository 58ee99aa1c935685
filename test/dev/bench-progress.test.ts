import { describe, expect, it } from "vitest";
import { runNodeScript } from "../node/admin-run.mjs";
import { freePort } from "../node/dev-server.mjs";

/**
 * `npm run bench` for real (it starts its own `wrangler dev` on a throw-away D1): the bench is never
 * silent for long, and its smallest run (one recovery pair) still prints progress on stderr while the
 * results stay on stdout. The lines' format is unit-tested in test/node/bench-report.test.ts.
 */
describe("npm run bench", () => {
  it("prints timed progress lines on stderr while the results stay on stdout", async () => {
    const args = ["--part", "recovery", "--pairs", "1", "--port", String(await freePort())];
    const run = runNodeScript("scripts/bench.mjs", args, { timeoutMs: 150_000 });
    expect(run.status, run.stderr).toBe(0);
    const progress = run.stderr.split("\n").filter((line) => /^\[bench +\d+\.\d s\] /.test(line));
    expect(progress.map((line) => line.replace(/^\[bench +\d+\.\d s\] /, ""))).toEqual(
      expect.arrayContaining([
        "applying migrations to the throw-away D1",
        "starting wrangler dev…",
        expect.stringMatching(/^wrangler dev is up at http:\/\/127\.0\.0\.1:\d+$/),
        "/api/v1/auth/forgot-password: 1 pairs of known and unknown addresses",
      ]),
    );
    expect(run.stdout).toContain("| `POST /auth/forgot-password` | 1 |");
  });
});
