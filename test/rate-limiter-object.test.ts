import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RateLimiter, TICKET_TTL_MS } from "../src/abuse/objects/rate-limiter";
import type { LimiterStub } from "../src/kernel/deps";
import type { LimitPolicy, LockoutPolicy } from "../src/config/rate-limits";

/** Unit tests of the object itself: time is passed in, so nothing sleeps. */

let counter = 0;
function freshObject() {
  counter += 1;
  const name = `unit:${counter}:${crypto.randomUUID()}`;
  return {
    stub: env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name)),
    rpc: env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name)) as unknown as LimiterStub,
  };
}

const T0 = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;
const perMinute: LimitPolicy = { name: "per_minute", limit: 5, window: 60 };
const perHour: LimitPolicy = { name: "per_hour", limit: 8, window: 3600 };
const lockout: LockoutPolicy = { softAfter: 5, softLockSeconds: 1800, hardAfter: 10, forgetAfterSeconds: 86_400 };

describe("RateLimiter object: sliding windows", () => {
  it("admits exactly the limit, then refuses with the wait until the oldest hit leaves the window", async () => {
    const { stub } = freshObject();
    await runInDurableObject(stub, (limiter: RateLimiter) => {
      for (let i = 0; i < 5; i++) expect(limiter.hit("login", [perMinute], T0 + i * 1000).ok).toBe(true);
      const refused = limiter.hit("login", [perMinute], T0 + 10_000);
      expect(refused).toMatchObject({ ok: false, retryAfter: 50, blockedBy: "per_minute" });
      // Refusals are not counted: the window frees exactly when the first hit is 60 s old.
      expect(limiter.hit("login", [perMinute], T0 + 59_999).ok).toBe(false);
      const again = limiter.hit("login", [perMinute], T0 + MINUTE);
      expect(again).toMatchObject({ ok: true, limits: [{ name: "per_minute", remaining: 0 }] });
    });
  });

  it("is a sliding window: no double burst across a window edge", async () => {
    const { stub } = freshObject();
    await runInDurableObject(stub, (limiter: RateLimiter) => {
      for (let i = 0; i < 5; i++) expect(limiter.hit("a", [perMinute], T0 + 59_000).ok).toBe(true);
      // A fixed window would reset at T0 + 60 s; the sliding log keeps counting these five.
      expect(limiter.hit("a", [perMinute], T0 + 61_000).ok).toBe(false);
      expect(limiter.hit("a", [perMinute], T0 + 119_000).ok).toBe(true);
    });
  });

  it("checks every policy of an action and reports the longest wait; actions count apart", async () => {
    const { stub } = freshObject();
    await runInDurableObject(stub, (limiter: RateLimiter) => {
      for (let i = 0; i < 8; i++) expect(limiter.hit("login", [perMinute, perHour], T0 + i * MINUTE).ok).toBe(true);
      const refused = limiter.hit("login", [perMinute, perHour], T0 + 8 * MINUTE);
      expect(refused).toMatchObject({ ok: false, blockedBy: "per_hour", retryAfter: 3600 - 8 * 60 });
      expect(limiter.hit("register", [perMinute], T0 + 8 * MINUTE).ok).toBe(true);
    });
  });

  it("admits exactly the limit from a parallel burst of RPC calls", async () => {
    const { rpc } = freshObject();
    const results = await Promise.all(Array.from({ length: 25 }, () => rpc.hit("login", [perMinute], T0)));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
  });
});

describe("RateLimiter object: guesses and lockout", () => {
  it("never admits more pending guesses than the lock threshold allows", async () => {
    const { rpc } = freshObject();
    const admitted = await Promise.all(Array.from({ length: 20 }, () => rpc.admitGuess("login", [], lockout, T0)));
    const tickets = admitted.flatMap((a) => (a.ok ? [a.ticket] : []));
    expect(tickets).toHaveLength(5);
    expect(admitted.filter((a) => !a.ok && a.reason === "locked" && a.tier === "pending")).toHaveLength(15);
    const settled = await Promise.all(tickets.map((t) => rpc.settleGuess(t, false, T0 + 10)));
    expect(settled.filter((s) => s.lockEvent === "soft")).toHaveLength(1);
    const after = await rpc.admitGuess("login", [], lockout, T0 + 20);
    expect(after).toMatchObject({ ok: false, reason: "locked", tier: "soft", retryAfter: 1800 });
  });

  it("a success clears the count; a failure adds one; a ticket settles only once", async () => {
    const { rpc } = freshObject();
    for (let i = 0; i < 4; i++) {
      const a = await rpc.admitGuess("login", [], lockout, T0);
      if (a.ok) await rpc.settleGuess(a.ticket, false, T0);
    }
    expect((await rpc.inspect(T0)).failures).toBe(4);
    const good = await rpc.admitGuess("login", [], lockout, T0);
    if (!good.ok) throw new Error("expected admission");
    expect(await rpc.settleGuess(good.ticket, true, T0)).toEqual({ failures: 0, lockEvent: null });
    expect(await rpc.settleGuess(good.ticket, false, T0)).toEqual({ failures: 0, lockEvent: null });
  });

  it("locks for 30 minutes at 5 failures and for good at 10, until unlocked", async () => {
    const { rpc } = freshObject();
    const fail = async (now: number) => {
      const a = await rpc.admitGuess("login", [], lockout, now);
      if (!a.ok) return a;
      return rpc.settleGuess(a.ticket, false, now);
    };
    for (let i = 0; i < 5; i++) await fail(T0);
    expect(await rpc.admitGuess("login", [], lockout, T0 + 29 * MINUTE)).toMatchObject({ ok: false, tier: "soft", retryAfter: 60 });
    for (let i = 0; i < 4; i++) expect(await fail(T0 + 30 * MINUTE)).toMatchObject({ lockEvent: null });
    expect(await fail(T0 + 30 * MINUTE)).toEqual({ failures: 10, lockEvent: "hard" });
    expect(await rpc.admitGuess("login", [], lockout, T0 + 365 * 24 * 60 * MINUTE)).toMatchObject({
      ok: false,
      tier: "hard",
      retryAfter: null,
    });
    expect(await rpc.unlock(T0 + 40 * MINUTE)).toEqual({ wasLocked: true, failures: 10 });
    expect((await rpc.admitGuess("login", [], lockout, T0 + 40 * MINUTE)).ok).toBe(true);
  });

  it("counts an admitted guess that is never reported as a failure once its ticket expires", async () => {
    const { rpc } = freshObject();
    for (let i = 0; i < 5; i++) expect((await rpc.admitGuess("login", [], lockout, T0)).ok).toBe(true);
    const later = T0 + TICKET_TTL_MS;
    expect(await rpc.inspect(later)).toMatchObject({ failures: 5, pending: 0, lockedUntil: later + 1800_000 });
    // The lock that began during the sweep is still announced, once, to the next caller.
    expect(await rpc.admitGuess("login", [], lockout, later)).toMatchObject({ ok: false, tier: "soft", lockEvent: "soft" });
    expect(await rpc.admitGuess("login", [], lockout, later)).toMatchObject({ ok: false, tier: "soft", lockEvent: null });
  });

  it("releases an admitted guess uncounted: no failure, no pending, and its hit taken back", async () => {
    const { rpc, stub } = freshObject();
    for (let i = 0; i < 4; i++) {
      const a = await rpc.admitGuess("login", [perHour], lockout, T0 + i);
      if (a.ok) await rpc.settleGuess(a.ticket, false, T0 + i);
    }
    const admitted = await rpc.admitGuess("login", [perHour], lockout, T0 + 10);
    if (!admitted.ok) throw new Error("not admitted");
    await rpc.releaseGuess(admitted.ticket, "login", T0 + 10, T0 + 20);
    // Once the ticket would have expired, still four failures: a released guess never becomes the fifth.
    expect(await rpc.inspect(T0 + TICKET_TTL_MS + 20)).toMatchObject({ failures: 4, pending: 0, lockedUntil: null });
    // A second release, or a late settle, changes nothing; the hour's budget holds the four hits and the next one.
    await rpc.releaseGuess(admitted.ticket, "login", T0 + 10, T0 + 30);
    expect(await rpc.settleGuess(admitted.ticket, false, T0 + 40)).toMatchObject({ failures: 4 });
    const next = await rpc.admitGuess("login", [perHour], lockout, T0 + 50);
    expect(next).toMatchObject({ ok: true });
    if (next.ok) await rpc.settleGuess(next.ticket, true, T0 + 50);
    const left = await runInDurableObject(stub, (_: RateLimiter, state: DurableObjectState) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hits").one(),
    );
    expect(left.n).toBe(5);
  });

  it("counts a login whose outcome never reached its IP's object as a failing identifier once its ticket expires", async () => {
    const { rpc, stub } = freshObject();
    const policy = { name: "spread", identifiers: 3, window: 3600, blockSeconds: 600, enforce: true };
    const hit = await rpc.hit("login", [perHour], T0, true, { policy, identifier: "a" });
    if (!hit.ok || !hit.ticket) throw new Error("not admitted");
    const failing = () =>
      runInDurableObject(stub, (limiter: RateLimiter, state: DurableObjectState) => {
        limiter.inspect(T0 + TICKET_TTL_MS); // any call prunes first
        return state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM spread WHERE failed = 1").one().n;
      });
    expect(await failing()).toBe(1);
    // A report that arrives after all is not counted a second time.
    expect(await rpc.settleSpread(hit.ticket, true, policy, T0 + TICKET_TTL_MS + 1)).toEqual({ blockStarted: null });
    expect(await failing()).toBe(1);
  });

  it("forgets a failure count after the configured quiet period", async () => {
    const { rpc } = freshObject();
    const a = await rpc.admitGuess("login", [], lockout, T0);
    if (a.ok) await rpc.settleGuess(a.ticket, false, T0);
    expect((await rpc.inspect(T0 + 86_400_000 - 1)).failures).toBe(1);
    expect((await rpc.inspect(T0 + 86_400_000)).failures).toBe(0);
  });
});

describe("RateLimiter object: alarm clean-up", () => {
  const tables = (state: DurableObjectState) =>
    state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'").toArray().length;

  it("deletes all storage of an idle object once its data has expired", async () => {
    const { stub, rpc } = freshObject();
    const now = Date.now();
    await rpc.hit("login", [perMinute], now);
    const alarmAt = await runInDurableObject(stub, (_: RateLimiter, state) => state.storage.getAlarm());
    expect(alarmAt).toBe(now + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, (_: RateLimiter, state) => expect(tables(state)).toBe(0));
    // A wiped object works again.
    expect((await rpc.hit("login", [perMinute], now + 60_000)).ok).toBe(true);
  });

  it("cleans up an object that an unlock left empty", async () => {
    const { stub, rpc } = freshObject();
    const now = Date.now();
    expect(await rpc.unlock(now)).toEqual({ wasLocked: false, failures: 0 });
    // The alarm is due at once; the runtime may already have run it, else run it here.
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, (_: RateLimiter, state) => expect(tables(state)).toBe(0));
  });

  it("keeps a hard lock through clean-up, drops everything else", async () => {
    const { stub, rpc } = freshObject();
    const now = Date.now();
    const tight: LockoutPolicy = { ...lockout, softAfter: 1, hardAfter: 2 };
    for (let i = 0; i < 2; i++) {
      const a = await rpc.admitGuess("login", [perMinute], tight, now + i * 1800_000);
      if (a.ok) await rpc.settleGuess(a.ticket, false, now + i * 1800_000);
    }
    // First alarm: the first hit has expired, the second not yet, so it re-arms; the second clears it.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await runInDurableObject(stub, async (_: RateLimiter, state) => {
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM hits").one().n).toBe(0);
      expect(await state.storage.getAlarm()).toBeNull();
    });
    expect(await rpc.inspect(now + 86_400_000 * 30)).toMatchObject({ hardLocked: true, failures: 2 });
  });
});
