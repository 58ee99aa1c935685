// The load harness the throughput comparisons share (`npm run bench:better-auth` and
// `npm run bench -- --geo`'s local ratios), so their numbers come from one measuring method.
import { median, rotation } from "./bench-report.mjs";

/** Requests per measurement and how many are in flight at once: the same for every target. */
export const LOAD = { total: 1500, concurrency: 8, warmUp: 100 };

/**
 * Requests per second of `send` (a request whose body the caller has read): LOAD.warmUp sequential
 * warm-up requests, then LOAD.total at LOAD.concurrency. Anything but 200 stops the run.
 */
async function throughput(label, send) {
  for (let i = 0; i < LOAD.warmUp; i++) {
    const res = await send();
    if (res.status !== 200) throw new Error(`${label}: ${res.status} during the warm-up`);
  }
  let sent = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: LOAD.concurrency }, async () => {
      while (sent < LOAD.total) {
        sent += 1;
        const res = await send();
        if (res.status !== 200) throw new Error(`${label}: ${res.status}`);
      }
    }),
  );
  return (LOAD.total / (performance.now() - start)) * 1000;
}

/**
 * `rounds` interleaved rounds over every target, the order rotating per round (round k starts with
 * target k) so no target always goes first and load from elsewhere on the machine hits all alike.
 * `targets` is `[name, send][]`; `report` hears each round's rates. Returns per target every
 * round's rate, its median and its best.
 * @param {[string, () => Promise<{ status: number }>][]} targets
 * @param {{ rounds: number, report?: (round: number, rates: Record<string, number>) => void }} options
 */
export async function interleavedRounds(targets, { rounds, report = () => undefined }) {
  /** @type {Record<string, number[]>} */
  const rates = Object.fromEntries(targets.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const thisRound = {};
    for (const [name, send] of rotation(targets, round)) {
      thisRound[name] = await throughput(name, send);
      rates[name].push(thisRound[name]);
    }
    report(round + 1, thisRound);
  }
  return Object.fromEntries(
    Object.entries(rates).map(([name, all]) => [name, { rounds: all, median: median(all), best: Math.max(...all) }]),
  );
}

/**
 * Stops a server started with `detached: true` (its own process group: npm/npx, wrangler and
 * workerd): SIGTERM to the group, SIGKILL after 5 s, and resolves once the child has exited.
 * @param {import("node:child_process").ChildProcess} child
 */
export async function stopProcessGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    process.kill(-(/** @type {number} */ (child.pid)), "SIGTERM");
  } catch {
    return; // already gone
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-(/** @type {number} */ (child.pid)), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}
