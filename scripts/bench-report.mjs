// What `npm run bench` (scripts/bench.mjs) prints, kept free of I/O so it is unit-tested without a
// server (test/node/bench-report.test.ts): progress lines, the summary of samples, the recovery table.

/**
 * One progress line for stderr (stdout keeps only the results), with the seconds since the start,
 * so a long run is never silent: `[bench   12.3 s] starting wrangler dev…`.
 * @param {number} elapsedMs
 * @param {string} message
 */
export function progressLine(elapsedMs, message) {
  return `[bench ${(elapsedMs / 1000).toFixed(1).padStart(6)} s] ${message}`;
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
