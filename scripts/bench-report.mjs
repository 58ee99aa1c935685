// What `npm run bench` (scripts/bench.mjs) prints, kept free of I/O so it is unit-tested without a
// server (test/node/bench-report.test.ts): progress lines, the summary of samples, the recovery table.

/**
 * One progress line for stderr (stdout keeps only the results), with the seconds since the start,
 * so a long run is never silent: `[bench   12.3 s] starting wrangler dev…`.
 * @param {number} elapsedMs
 * @param {string} message
 * @param {string} [label] what is running (`soak` for scripts/soak.mjs)
 */
export function progressLine(elapsedMs, message, label = "bench") {
  return `[${label} ${(elapsedMs / 1000).toFixed(1).padStart(6)} s] ${message}`;
}

/**
 * Count, median and p95 of latency samples (ms); sorts `samples` in place.
 * @param {number[]} samples
 */
export function summarize(samples) {
  samples.sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => /** @type {number} */ (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]);
  return { n: samples.length, median: at(0.5), p95: at(0.95) };
}

/**
 * The Markdown table of the recovery part: per request, known and unknown addresses side by side.
 * @param {{ path: string, known: Summary, unknown: Summary, diff: Summary }[]} rows
 * @returns {string[]} its lines, a blank line first
 * @typedef {{ n: number, median: number, p95: number }} Summary
 */
export function recoveryTable(rows) {
  const lines = [
    "",
    "| request | n pairs | known median ms | unknown median ms | difference of medians ms | median of paired differences ms | known p95 | unknown p95 |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const cells = [r.known.median, r.unknown.median, r.known.median - r.unknown.median, r.diff.median, r.known.p95, r.unknown.p95];
    lines.push(`| \`POST ${r.path.replace("/api/v1", "")}\` | ${r.known.n} | ${cells.map((v) => v.toFixed(2)).join(" | ")} |`);
  }
  return lines;
}

/**
 * The users and API keys counted by `wrangler d1 execute` (its printed output), "?" when unreadable.
 * @param {string} output
 */
export function parseCounts(output) {
  const match = output.match(/"users":\s*(\d+)[\s\S]*?"keys":\s*(\d+)/);
  return match ? { users: Number(match[1]), keys: Number(match[2]) } : { users: "?", keys: "?" };
}

/**
 * The median of `values` (the mean of the middle two for an even count); NaN for none. Leaves
 * `values` as it was.
 * @param {number[]} values
 */
export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? /** @type {number} */ (sorted[mid])
    : /** @type {number} */ (sorted[mid - 1] + /** @type {number} */ (sorted[mid])) / 2;
}

/**
 * The cost of one operation from requests timed from outside workerd (its clock stands still during
 * CPU work): per round, (a request doing `n` − one doing none) ÷ `n`; the median over rounds, never
 * below zero.
 * @param {number[]} full milliseconds of the requests doing `n` operations, one per round
 * @param {number[]} empty milliseconds of the requests doing none, in the same rounds
 * @param {number} n
 */
export function perOperationMs(full, empty, n) {
  if (full.length !== empty.length || full.length === 0)
    throw new Error("perOperationMs needs as many full as empty timings, at least one");
  return Math.max(0, median(full.map((ms, i) => (ms - /** @type {number} */ (empty[i])) / n)));
}

/**
 * A goal on a ratio: at most `max` (a latency against its floor) or at least `min` (a rate against
 * another's).
 * @typedef {{ max: number } | { min: number }} Goal
 */

/** "≤ 1.5×" or "≥ 0.9×"; "—" without a goal. @param {Goal | null | undefined} goal */
export function goalText(goal) {
  if (!goal) return "—";
  return "max" in goal ? `≤ ${goal.max}×` : `≥ ${goal.min}×`;
}

/** "met" or "MISSED" for a measured ratio, "—" without a goal (or without a measurement). @param {number} ratio @param {Goal | null | undefined} goal */
export function verdict(ratio, goal) {
  if (!goal || !Number.isFinite(ratio)) return "—";
  const met = "max" in goal ? ratio <= goal.max : ratio >= goal.min;
  return met ? "met" : "MISSED";
}

/**
 * One summary line: what, the goal, the measured value and whether it was met.
 * `Sequential login ÷ floor: goal ≤ 1.5×, measured 1.62× — MISSED`
 * @param {string} label
 * @param {Goal} goal
 * @param {number} ratio
 */
export function goalLine(label, goal, ratio) {
  return `${label}: goal ${goalText(goal)}, measured ${ratio.toFixed(2)}× — ${verdict(ratio, goal)}`;
}

/**
 * The latency table of `npm run bench`: per row its median and p95, its floor (and what the floor
 * is made of), the median ÷ floor and, where the issue names one, the goal on that ratio and whether
 * it was met.
 * @param {{ dataset: string, users: number | string, keys: number | string, name: string, summary: Summary, floor: number, floorIs: string, goal?: Goal | null }[]} rows
 * @returns {string[]} its lines, a blank line first
 */
export function latencyTable(rows) {
  const lines = [
    "",
    "| data set | users | api keys | request | n | median ms | p95 ms | floor ms | floor is | median ÷ floor | goal | verdict |",
    "|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---|",
  ];
  for (const r of rows) {
    const ratio = r.summary.median / r.floor;
    lines.push(
      `| ${r.dataset} | ${r.users} | ${r.keys} | ${r.name} | ${r.summary.n} | ${r.summary.median.toFixed(2)} | ${r.summary.p95.toFixed(2)} | ${r.floor.toFixed(2)} | ${r.floorIs} | ${ratio.toFixed(2)} | ${goalText(r.goal)} | ${verdict(ratio, r.goal)} |`,
    );
  }
  return lines;
}

/**
 * The order of round `round` (0-based) of interleaved throughput rounds: `items` rotated so each
 * goes first in turn, no target always measured first (or last, on a warmer machine).
 * @template T
 * @param {T[]} items
 * @param {number} round
 * @returns {T[]}
 */
export function rotation(items, round) {
  if (items.length === 0) return [];
  const k = ((round % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Worst, p95 and median of revocation trials (ms from the revoking response to the first refusal).
 * @param {number[]} samples
 */
export function revocationSummary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const p95 = /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]);
  return { n: sorted.length, worst: /** @type {number} */ (sorted[sorted.length - 1]), p95, median: median(sorted) };
}
