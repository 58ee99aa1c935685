import { describe, expect, it } from "vitest";
import { parseCounts, progressLine, recoveryTable, summarize } from "../../scripts/bench-report.mjs";

/**
 * What `npm run bench` prints, without a server (a real run is test/dev/bench-progress.test.ts,
 * `npm run test:dev`): the progress lines on stderr and the result tables on stdout.
 */
describe("npm run bench's output", () => {
  it("prefixes progress with the seconds since the start, one decimal, padded so messages line up", () => {
    expect(progressLine(0, "applying migrations to the throw-away D1")).toBe("[bench    0.0 s] applying migrations to the throw-away D1");
    expect(progressLine(12_345, "starting wrangler dev…")).toBe("[bench   12.3 s] starting wrangler dev…");
    expect(progressLine(1_234_567, "x")).toBe("[bench 1234.6 s] x");
    // The form the real run's lines are matched by.
    expect(progressLine(987, "y")).toMatch(/^\[bench +\d+\.\d s\] y$/);
  });

  it("summarizes samples as count, median and p95", () => {
    expect(summarize([5, 1, 4, 2, 3])).toEqual({ n: 5, median: 3, p95: 5 });
    expect(summarize(Array.from({ length: 100 }, (_, i) => 100 - i))).toEqual({ n: 100, median: 51, p95: 96 });
    expect(summarize([7])).toEqual({ n: 1, median: 7, p95: 7 });
  });

  it("tabulates the recovery part: one row per request, the path without /api/v1, two decimals", () => {
    const summary = (median: number, p95: number) => ({ n: 1, median, p95 });
    const lines = recoveryTable([
      { path: "/api/v1/auth/forgot-password", known: summary(10, 12), unknown: summary(9.5, 11), diff: summary(0.25, 0.25) },
    ]);
    expect(lines[0]).toBe("");
    expect(lines[1]).toMatch(/^\| request \| n pairs \| known median ms \|/);
    expect(lines[3]).toBe("| `POST /auth/forgot-password` | 1 | 10.00 | 9.50 | 0.50 | 0.25 | 12.00 | 11.00 |");
    expect(lines).toHaveLength(4);
  });

  it("reads the counts out of wrangler d1 execute's output", () => {
    expect(parseCounts('[{"results":[{"users":12,"keys":110}],"success":true}]')).toEqual({ users: 12, keys: 110 });
    expect(parseCounts('"users": 3,\n  "keys": 4')).toEqual({ users: 3, keys: 4 });
    expect(parseCounts("error")).toEqual({ users: "?", keys: "?" });
  });
});
