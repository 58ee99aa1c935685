// The load harness the throughput comparisons share (`npm run bench:better-auth` and
// `npm run bench -- --geo`'s local ratios), so their numbers come from one measuring method, and
// the request helper and server stop the benches and the soak share.
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

/**
 * fetch, sent again once when the connection it reused was closed under it: wrangler dev closes
 * idle keep-alive connections (after a pause such as a `wrangler d1 execute`), and a request that
 * meets a closed socket was never read by the worker.
 * @param {string} url
 * @param {RequestInit} [init]
 */
export async function fetchOnce(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    const code = /** @type {any} */ (error)?.cause?.code;
    if (code !== "UND_ERR_SOCKET" && code !== "ECONNRESET") throw error;
    return fetch(url, init);
  }
}

/**
 * One request to the server at `base` from client address `ip` (`CF-Connecting-IP`): a JSON `body`
 * or a urlencoded `form` makes it a POST; redirects are not followed. The status, the body as JSON
 * (null when it is not), as text, and the headers.
 * @param {string} base
 * @param {string} path
 * @param {{ method?: string, token?: string, body?: unknown, form?: Record<string, string>, ip?: string,
 *   headers?: Record<string, string>, cookie?: string, signal?: AbortSignal }} [options]
 */
export async function serverRequest(base, path, { method, token, body, form, ip = "10.0.0.1", headers: extra = {}, cookie, signal } = {}) {
  method ??= body || form ? "POST" : "GET";
  /** @type {Record<string, string>} */
  const headers = { "CF-Connecting-IP": ip, ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (cookie) headers.Cookie = cookie;
  let payload;
  if (body) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    payload = new URLSearchParams(form).toString();
  }
  const res = await fetchOnce(`${base}${path}`, { method, headers, body: payload, redirect: "manual", signal });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (a page, a redirect, or nothing)
  }
  return { status: res.status, json, text, headers: res.headers };
}
