import type { Deps } from "../kernel/deps";
import { AppError } from "../errors";
import { log } from "../log";

/**
 * Breached passwords (`BREACHED_PASSWORD_CHECK`), by the k-anonymity range API at `HIBP_API_URL`:
 * only the first 5 hex digits of the password's SHA-1 leave the worker, the API answers every
 * suffix it knows under that prefix (padded with zero-count decoys, `Add-Padding: true`) and the
 * match is made here. Answers are kept per location in the Cache API for a day, so a popular
 * prefix costs one round trip per location and day; only a well-formed range answer (lines of a
 * 35-hex suffix and a count, at most 256 KiB) is used or kept. The check has a short timeout and
 * fails open: an unreachable API, or one answering anything else, never blocks a registration, a
 * reset or a login; it logs a warning without the password, its hash or the prefix.
 */

const TIMEOUT_MS = 1500;
const CACHE_SECONDS = 86_400;
/**
 * The largest range answer taken: a padded answer holds about 800 to 1,000 lines of about 40 bytes;
 * anything far beyond is not a range answer, and is not read further.
 */
const MAX_RANGE_BYTES = 256 * 1024;
/** One line of a range answer: the other 35 hex digits of a SHA-1, and how often it was seen. */
const RANGE_LINE = /^[0-9A-Fa-f]{35}:\d{1,10}$/;

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
  // An entry is checked as well: one stored before answers were checked is asked for again.
  const hit = cached ? await readBounded(cached, MAX_RANGE_BYTES) : null;
  if (hit !== null && isRangeAnswer(hit)) return hit;
  const response = await deps.fetch(url, {
    headers: { "Add-Padding": "true", "User-Agent": "Gatehouse" },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`range API answered ${response.status}`);
  // Anything but a range answer (a portal's page, a truncated or oversized body) counts as the API
  // being unavailable, and is never cached: it would answer "not breached" for a day.
  const body = await readBounded(response, MAX_RANGE_BYTES);
  if (body === null) throw new Error("range API answered more than a range");
  if (!isRangeAnswer(body)) throw new Error("range API answered something other than a range");
  const put = cache?.put(url, new Response(body, { headers: { "Cache-Control": `max-age=${CACHE_SECONDS}` } }));
  if (put) deps.waitUntil(put.catch(() => undefined));
  return body;
}

/** The body as text, or null once it exceeds `max` bytes (the rest is not read). */
async function readBounded(response: Response, max: number): Promise<string | null> {
  if (!response.body) return "";
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let received = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    received += value.byteLength;
    if (received > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** Whether a body is a range answer: one or more `SUFFIX:COUNT` lines (CRLF or LF), nothing else. */
function isRangeAnswer(body: string): boolean {
  const lines = body.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines.length > 0 && lines.every((line) => RANGE_LINE.test(line));
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
    const reason = { key: "passwordPolicy.breached" };
    throw new AppError("weak_password", { detail: BREACHED_REASON, errors: [{ field, message: BREACHED_REASON, reason }] });
  }
}
