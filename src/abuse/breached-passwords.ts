import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { log } from "../log";

/**
 * Breached passwords (`BREACHED_PASSWORD_CHECK`), by the k-anonymity range API at `HIBP_API_URL`:
 * only the first 5 hex digits of the password's SHA-1 leave the worker, the API answers every
 * suffix it knows under that prefix (padded with zero-count decoys, `Add-Padding: true`) and the
 * match is made here. Answers are kept per location in the Cache API for a day, so a popular
 * prefix costs one round trip per location and day. The check has a short timeout and fails open:
 * an unreachable API never blocks a registration, a reset or a login; it logs a warning without
 * the password, its hash or the prefix.
 */

const TIMEOUT_MS = 1500;
const CACHE_SECONDS = 86_400;

const BREACHED_REASON = "This password has appeared in a data breach, so attackers try it first. Choose a different password.";

async function sha1Hex(password: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(password)));
  return [...digest]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
}

/** The Cache API of this location, when the runtime has one (tests and `wrangler dev` do). */
function locationCache(): Cache | null {
  return typeof caches === "undefined" ? null : ((caches as unknown as { default?: Cache }).default ?? null);
}

/** The range API's body for `prefix`: from this location's cache, else fetched (and cached). */
async function rangeFor(deps: Deps, prefix: string): Promise<string> {
  const url = `${deps.config.breachedPasswords.apiUrl}${prefix}`;
  const cache = locationCache();
  const cached = await cache?.match(url).catch(() => undefined);
  if (cached) return cached.text();
  const response = await deps.fetch(url, {
    headers: { "Add-Padding": "true", "User-Agent": "Gatehouse" },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`range API answered ${response.status}`);
  const body = await response.text();
  const put = cache?.put(url, new Response(body, { headers: { "Cache-Control": `max-age=${CACHE_SECONDS}` } }));
  if (put) deps.waitUntil(put.catch(() => undefined));
  return body;
}

/**
 * How often the password appears in breaches (0: not at all), or null when the API could not be
 * asked (timeout, error): the caller goes on as if it were clean.
 */
export async function breachCount(deps: Deps, password: string): Promise<number | null> {
  const hash = await sha1Hex(password);
  const prefix = hash.slice(0, 5);
  const suffix = hash.slice(5);
  let body: string;
  try {
    body = await rangeFor(deps, prefix);
  } catch (error) {
    const reason =
      error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError") ? "timeout" : String(error).slice(0, 120);
    log("warn", "breached_password.check_failed", { request_id: deps.meta.requestId, reason });
    return null;
  }
  for (const line of body.split("\n")) {
    const [candidate, count] = line.trim().split(":");
    // Padding lines carry a count of 0: they are decoys, not breaches.
    if (candidate?.toUpperCase() === suffix) return Math.max(0, Number.parseInt(count ?? "0", 10) || 0);
  }
  return 0;
}

/** Whether new passwords are checked (`register` and `always`). */
function checksNewPasswords(deps: Deps): boolean {
  return deps.config.breachedPasswords.mode !== "off";
}

/** Throws 422 `weak_password` on `field` when the check is on and the password is known breached. */
export async function assertNotBreached(deps: Deps, password: string, field = "password"): Promise<void> {
  if (!checksNewPasswords(deps)) return;
  if (((await breachCount(deps, password)) ?? 0) > 0) {
    throw new AppError("weak_password", { detail: BREACHED_REASON, errors: [{ field, message: BREACHED_REASON }] });
  }
}
