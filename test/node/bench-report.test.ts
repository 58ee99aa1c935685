import { describe, expect, it } from "vitest";
import {
  goalLine,
  goalText,
  latencyTable,
  median,
  parseCounts,
  perOperationMs,
  progressLine,
  recoveryTable,
  revocationSummary,
  rotation,
  summarize,
  verdict,
} from "../../scripts/bench-report.mjs";

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

  it("takes the median of an odd and an even count without reordering the input", () => {
    const values = [5, 1, 3];
    expect(median(values)).toBe(3);
    expect(values).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("prices one operation from requests timed outside workerd: median of (full − empty) ÷ n per round, never negative", () => {
    // Rounds: (140−7)/10 = 13.3, (163−6)/10 = 15.7, (150−10)/10 = 14 → median 14.
    expect(perOperationMs([140, 163, 150], [7, 6, 10], 10)).toBeCloseTo(14, 10);
    expect(perOperationMs([5, 5, 5], [6, 7, 8], 200)).toBe(0);
    expect(() => perOperationMs([1, 2], [1], 10)).toThrow();
    expect(() => perOperationMs([], [], 10)).toThrow();
  });

  it("says a goal, and whether a ratio met it, for either direction; no goal, no verdict", () => {
    expect(goalText({ max: 1.5 })).toBe("≤ 1.5×");
    expect(goalText({ min: 0.9 })).toBe("≥ 0.9×");
    expect(goalText(null)).toBe("—");
    expect(verdict(1.5, { max: 1.5 })).toBe("met");
    expect(verdict(1.51, { max: 1.5 })).toBe("MISSED");
    expect(verdict(0.9, { min: 0.9 })).toBe("met");
    expect(verdict(0.89, { min: 0.9 })).toBe("MISSED");
    expect(verdict(2, null)).toBe("—");
    expect(verdict(Number.NaN, { max: 1 })).toBe("—");
    expect(goalLine("Sequential login ÷ floor", { max: 1.5 }, 1.623)).toBe(
      "Sequential login ÷ floor: goal ≤ 1.5×, measured 1.62× — MISSED",
    );
    expect(goalLine("token ÷ session", { min: 1.5 }, 1.5)).toBe("token ÷ session: goal ≥ 1.5×, measured 1.50× — met");
  });

  it("tabulates latency rows with floor, what the floor is, the ratio, the goal and the verdict", () => {
    const summary = { n: 15, median: 30, p95: 40 };
    const lines = latencyTable([
      { dataset: "small", users: 2, keys: 10, name: "POST /auth/login", summary, floor: 20, floorIs: "bare + PBKDF2", goal: { max: 1.5 } },
      { dataset: "small", users: 2, keys: 10, name: "POST /auth/passkey", summary, floor: 25, floorIs: "bare + P-256 verify" },
    ]);
    expect(lines[0]).toBe("");
    expect(lines[1]).toMatch(
      /^\| data set \| users \| api keys \| request \| n \| median ms \| p95 ms \| floor ms \| floor is \| median ÷ floor \| goal \| verdict \|$/,
    );
    expect(lines[3]).toBe("| small | 2 | 10 | POST /auth/login | 15 | 30.00 | 40.00 | 20.00 | bare + PBKDF2 | 1.50 | ≤ 1.5× | met |");
    expect(lines[4]).toBe("| small | 2 | 10 | POST /auth/passkey | 15 | 30.00 | 40.00 | 25.00 | bare + P-256 verify | 1.20 | — | — |");
  });

  it("rotates the order of interleaved rounds so each target goes first in turn", () => {
    const targets = ["a", "b", "c", "d"];
    expect([0, 1, 2, 3, 4].map((round) => rotation(targets, round).join(""))).toEqual(["abcd", "bcda", "cdab", "dabc", "abcd"]);
    expect(targets).toEqual(["a", "b", "c", "d"]);
    expect(rotation([], 3)).toEqual([]);
  });

  it("summarizes revocation trials as worst, p95 (nearest rank) and median", () => {
    const twenty = Array.from({ length: 20 }, (_, i) => (i + 1) * 100); // 100 … 2000
    expect(revocationSummary(twenty)).toEqual({ n: 20, worst: 2000, p95: 1900, median: 1050 });
    expect(revocationSummary([700, 300, 500])).toEqual({ n: 3, worst: 700, p95: 700, median: 500 });
  });
});
