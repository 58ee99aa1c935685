// The judgements of `npm run soak` (scripts/soak.mjs), as pure functions of what the run observed:
// each takes the soak's records and answers { ok, detail }. Unit-tested in
// test/node/soak-invariants.test.ts, where each is also shown to fail on the record of a broken run.

/**
 * A 5xx is declared only as API.md declares it: 503 with `Retry-After`, and for the JSON API the
 * problem+json code `service_unavailable` (the OAuth endpoints answer RFC 6749 JSON, the pages
 * HTML). Everything else at 500 or above (a 500 `internal_error`, a 502, a 503 without
 * `Retry-After`) is a failure the contract does not allow, and so is no answer at all (status 0: a
 * request that timed out or lost its connection).
 * @param {{ status: number, retryAfter: string | null, contentType: string, code: string | null, path: string }} answer
 */
export function isDeclared5xx(answer) {
  if (answer.status !== 503 || !answer.retryAfter) return false;
  if (answer.contentType.includes("application/problem+json")) return answer.code === "service_unavailable";
  return true;
}

/**
 * @param {{ status: number, retryAfter: string | null, contentType: string, code: string | null, path: string }[]} fiveHundreds
 */
export function noUndeclared5xx(fiveHundreds) {
  const bad = fiveHundreds.filter((a) => !isDeclared5xx(a));
  return {
    ok: bad.length === 0,
    detail: bad.length === 0 ? `${fiveHundreds.length} 5xx, every one a 503 with Retry-After` : bad.slice(0, 5),
  };
}

/**
 * One credential change the soak asked for and what the account looked like afterwards, probed with
 * faults off: the old and new password (login status), the witness session made before the change
 * (refresh status) and its API key (status of `GET /users/me` with it).
 * @typedef {{ account: string, kind: "password_change" | "password_reset" | "deactivation",
 *   answered: number, probe: { oldPassword: number, newPassword: number | null, witness: number, apiKey: number } }} CredentialChange
 */

/**
 * Whether a probed account is wholly before or wholly after its change. Before: the old password
 * signs in, the witness session refreshes, its key works (and the new password does not). After: the
 * old password is refused, the new one signs in (a deactivation: neither), the witness session and
 * its key are dead.
 * @param {CredentialChange["probe"]} probe
 * @param {CredentialChange["kind"]} kind
 * @returns {"before" | "after" | "partial"}
 */
export function credentialState(probe, kind) {
  const before =
    probe.oldPassword === 200 && probe.witness === 200 && probe.apiKey === 200 && (probe.newPassword === null || probe.newPassword === 401);
  const after =
    probe.oldPassword === 401 &&
    probe.witness === 401 &&
    probe.apiKey === 401 &&
    (kind === "deactivation" ? probe.newPassword === null : probe.newPassword === 200);
  return before ? "before" : after ? "after" : "partial";
}

/**
 * No partial credential change: every change is wholly applied or wholly not; one that answered
 * 2xx is applied; one refused with a 4xx is not.
 * @param {CredentialChange[]} changes
 */
export function noPartialCredentialChange(changes) {
  const bad = [];
  for (const change of changes) {
    const state = credentialState(change.probe, change.kind);
    const expected = change.answered < 300 ? "after" : change.answered < 500 ? "before" : state;
    if (state === "partial" || state !== expected) bad.push({ ...change, state, expected });
  }
  const applied = changes.filter((c) => credentialState(c.probe, c.kind) === "after").length;
  return {
    ok: bad.length === 0,
    detail: bad.length === 0 ? `${changes.length} changes (${applied} applied), none partial` : bad.slice(0, 5),
  };
}

/**
 * Every event committed to the outbox reached the receiver at least once (it de-duplicates by
 * `webhook-id`), signed; and nothing arrived that was never committed.
 * @param {string[]} committed the outbox's ids for the soak's endpoint
 * @param {Map<string, number>} received deliveries per id
 * @param {number} badSignatures
 */
export function eventsDelivered(committed, received, badSignatures) {
  const missing = committed.filter((id) => !received.has(id));
  const known = new Set(committed);
  const stray = [...received.keys()].filter((id) => !known.has(id));
  const duplicates = [...received.values()].reduce((sum, n) => sum + n - 1, 0);
  return {
    ok: missing.length === 0 && stray.length === 0 && badSignatures === 0 && committed.length > 0,
    detail: {
      committed: committed.length,
      received: received.size,
      duplicates_dropped: duplicates,
      missing: missing.slice(0, 5),
      stray: stray.slice(0, 5),
      bad_signatures: badSignatures,
    },
  };
}

/**
 * Every refresh family has at most one live token:
 * - each refresh token the soak presented, however often and however concurrently, rotated to at
 *   most one successor (a retry gets the same one back, never a second live token);
 * - in storage, no session's live refresh hash is also a retired one, and no OAuth family has more
 *   than one unused, unrevoked, unexpired token.
 * @param {Map<string, Set<string>>} successors presented token → the refresh tokens its 200s carried
 * @param {{ liveAndRetired: number, oauthFamiliesOverOne: number }} storage
 */
export function oneLiveTokenPerFamily(successors, storage) {
  const forked = [...successors.entries()].filter(([, next]) => next.size > 1);
  return {
    ok: forked.length === 0 && storage.liveAndRetired === 0 && storage.oauthFamiliesOverOne === 0 && successors.size > 0,
    detail: {
      presented: successors.size,
      forked: forked.length,
      sessions_live_and_retired: storage.liveAndRetired,
      oauth_families_over_one: storage.oauthFamiliesOverOne,
    },
  };
}

/**
 * A per-IP limit admitted exactly its limit out of a concurrent burst: answers other than 429 that
 * the limiter admitted (a 503 whose failed call was the limiter's own was never counted) equal the
 * limit, when at least that many reached it.
 * @param {{ limit: number, answers: { status: number, limiterFailed: boolean }[] }} burst
 */
export function ipBurstExact(burst) {
  const reached = burst.answers.filter((a) => !a.limiterFailed);
  const admitted = reached.filter((a) => a.status !== 429).length;
  return reached.length >= burst.limit ? admitted === burst.limit : admitted === reached.length;
}

/**
 * A lockout counted exactly: over a concurrent burst of wrong passwords and the sequential ones
 * after it, never more than `softAfter` were judged (401); fewer only by guesses a fault cut short
 * (503), which the lockout counts when the fault came during the password check (the guess may have
 * been evaluated); then 423 for everything, the right password included.
 * @param {{ softAfter: number, burst: number[], after: number[], rightPasswordWhileLocked: number }} probe
 */
export function lockoutExact(probe) {
  const all = [...probe.burst, ...probe.after];
  const judged = all.filter((s) => s === 401).length;
  const cut = all.filter((s) => s === 503).length;
  const locked = (probe.after.at(-1) ?? probe.burst.at(-1)) === 423 && probe.rightPasswordWhileLocked === 423;
  return judged <= probe.softAfter && judged >= probe.softAfter - cut && locked;
}

/**
 * @param {{ ip: Parameters<typeof ipBurstExact>[0][], lockout: Parameters<typeof lockoutExact>[0][] }} probes
 */
export function limitsExact(probes) {
  const badIp = probes.ip.filter((b) => !ipBurstExact(b));
  const badLockout = probes.lockout.filter((p) => !lockoutExact(p));
  return {
    ok: badIp.length === 0 && badLockout.length === 0 && probes.ip.length > 0 && probes.lockout.length > 0,
    detail: {
      ip_bursts: probes.ip.length,
      lockouts: probes.lockout.length,
      inexact_ip: badIp
        .slice(0, 3)
        .map((b) => ({ limit: b.limit, statuses: b.answers.map((a) => `${a.status}${a.limiterFailed ? "*" : ""}`) })),
      inexact_lockout: badLockout.slice(0, 3),
    },
  };
}

/** The 99th percentile (nearest rank) of `values`, 0 when there are none. */
export function p99(values) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

/**
 * Flat across the run: the last window's figure within `factor` of the first's, or within `slack`
 * of it in absolute terms (small figures jitter by more than a factor).
 * @param {number} first
 * @param {number} last
 * @param {{ factor: number, slack: number }} bound
 */
export function flat(first, last, bound) {
  return first > 0 && last > 0 && (last <= first * bound.factor || last - first <= bound.slack);
}
