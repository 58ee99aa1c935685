import { describe, expect, it } from "vitest";
import {
  credentialState,
  eventsDelivered,
  flat,
  ipBurstExact,
  isDeclared5xx,
  limitsExact,
  lockoutExact,
  noPartialCredentialChange,
  noUndeclared5xx,
  oneLiveTokenPerFamily,
  p99,
  type CredentialChange,
} from "../../scripts/soak-invariants.mjs";
import { newWebhookSecret, signedBy, startReceiver } from "../../scripts/soak-receiver.mjs";

/**
 * The judgements of `npm run soak` (scripts/soak.mjs), each on the record of a sound run and of a
 * run whose property was broken: a soak that cannot fail proves nothing.
 */

const problem503 = {
  status: 503,
  retryAfter: "5",
  contentType: "application/problem+json; charset=utf-8",
  code: "service_unavailable",
  path: "/x",
};

describe("no undeclared 5xx", () => {
  it("accepts a 503 with Retry-After: problem+json service_unavailable, an OAuth JSON error, a page", () => {
    expect(isDeclared5xx(problem503)).toBe(true);
    expect(isDeclared5xx({ ...problem503, contentType: "application/json", code: "temporarily_unavailable" })).toBe(true);
    expect(isDeclared5xx({ ...problem503, contentType: "text/html; charset=utf-8", code: null })).toBe(true);
    expect(noUndeclared5xx([problem503, problem503]).ok).toBe(true);
  });

  it("refuses a 500, a 503 without Retry-After, and a problem 503 with another code", () => {
    expect(isDeclared5xx({ ...problem503, status: 500, code: "internal_error" })).toBe(false);
    expect(isDeclared5xx({ ...problem503, retryAfter: null })).toBe(false);
    expect(isDeclared5xx({ ...problem503, code: "internal_error" })).toBe(false);
    const verdict = noUndeclared5xx([problem503, { ...problem503, status: 502 }]);
    expect(verdict.ok).toBe(false);
    expect(verdict.detail).toEqual([{ ...problem503, status: 502 }]);
  });
});

describe("no partial credential change", () => {
  const before = { oldPassword: 200, newPassword: 401, witness: 200, apiKey: 200 };
  const after = { oldPassword: 401, newPassword: 200, witness: 401, apiKey: 401 };
  const change = (
    answered: number,
    probe: CredentialChange["probe"],
    kind: CredentialChange["kind"] = "password_change",
  ): CredentialChange => ({
    account: "a@example.com",
    kind,
    answered,
    probe,
  });

  it("tells wholly before, wholly after and partial apart", () => {
    expect(credentialState(before, "password_reset")).toBe("before");
    expect(credentialState(after, "password_reset")).toBe("after");
    expect(credentialState({ oldPassword: 401, newPassword: null, witness: 401, apiKey: 401 }, "deactivation")).toBe("after");
    expect(credentialState({ oldPassword: 200, newPassword: null, witness: 200, apiKey: 200 }, "deactivation")).toBe("before");
    // The key outlived a reset that took the password and the sessions.
    expect(credentialState({ ...after, apiKey: 200 }, "password_reset")).toBe("partial");
  });

  it("accepts a change that answered 2xx and is applied, and a 503 either way", () => {
    expect(noPartialCredentialChange([change(204, after), change(503, before), change(503, after), change(429, before)]).ok).toBe(true);
  });

  it("fails a partial state, a 2xx that did not apply, and a 4xx that did", () => {
    expect(noPartialCredentialChange([change(503, { ...after, witness: 200 })]).ok).toBe(false);
    expect(noPartialCredentialChange([change(204, before)]).ok).toBe(false);
    expect(noPartialCredentialChange([change(400, after)]).ok).toBe(false);
  });
});

describe("events delivered at least once", () => {
  it("holds when every committed id arrived, duplicates dropped", () => {
    const verdict = eventsDelivered(
      ["a", "b"],
      new Map([
        ["a", 2],
        ["b", 1],
      ]),
      0,
    );
    expect(verdict).toEqual({
      ok: true,
      detail: { committed: 2, received: 2, duplicates_dropped: 1, missing: [], stray: [], bad_signatures: 0 },
    });
  });

  it("fails on a lost event, a stray one, a bad signature, or nothing committed at all", () => {
    expect(eventsDelivered(["a", "b"], new Map([["a", 1]]), 0).ok).toBe(false);
    expect(
      eventsDelivered(
        ["a"],
        new Map([
          ["a", 1],
          ["z", 1],
        ]),
        0,
      ).ok,
    ).toBe(false);
    expect(eventsDelivered(["a"], new Map([["a", 1]]), 1).ok).toBe(false);
    expect(eventsDelivered([], new Map(), 0).ok).toBe(false);
  });
});

describe("one live token per refresh family", () => {
  const clean = { liveAndRetired: 0, oauthFamiliesOverOne: 0 };
  it("holds when every presentation rotated to one successor", () => {
    expect(
      oneLiveTokenPerFamily(
        new Map([
          ["t1", new Set(["t2"])],
          ["t2", new Set()],
        ]),
        clean,
      ).ok,
    ).toBe(true);
  });

  it("fails on a fork (two successors of one token), or storage with two live tokens in a family", () => {
    expect(oneLiveTokenPerFamily(new Map([["t1", new Set(["t2", "t3"])]]), clean).ok).toBe(false);
    expect(oneLiveTokenPerFamily(new Map([["t1", new Set(["t2"])]]), { ...clean, liveAndRetired: 1 }).ok).toBe(false);
    expect(oneLiveTokenPerFamily(new Map([["t1", new Set(["t2"])]]), { ...clean, oauthFamiliesOverOne: 2 }).ok).toBe(false);
  });
});

describe("rate-limit and lockout counts exact", () => {
  const answer = (status: number, limiterFailed = false) => ({ status, limiterFailed });

  it("an IP burst admits exactly the limit, not counting what never reached the limiter", () => {
    const five = [401, 401, 401, 503, 401].map((s) => answer(s));
    expect(ipBurstExact({ limit: 5, answers: [...five, answer(429), answer(429), answer(503, true)] })).toBe(true);
    // One more admitted than the limit: an off-by-one in the window.
    expect(ipBurstExact({ limit: 5, answers: [...five, answer(401), answer(429)] })).toBe(false);
    // Refused before the limit was reached.
    expect(ipBurstExact({ limit: 5, answers: [answer(401), answer(429), answer(429), answer(429), answer(429), answer(429)] })).toBe(false);
  });

  it("a lockout judges exactly its count of wrong passwords (fewer only by fault-cut ones), then locks, the right one included", () => {
    expect(
      lockoutExact({ softAfter: 5, burst: [401, 401, 503, 401, 423, 423], after: [401, 401, 423], rightPasswordWhileLocked: 423 }),
    ).toBe(true);
    // The 503 came during its password check, so it counted: four judged and one cut make the five.
    expect(lockoutExact({ softAfter: 5, burst: [401, 503, 401, 401, 401, 423], after: [423], rightPasswordWhileLocked: 423 })).toBe(true);
    // Locked after three judged with only one cut: two counted that nobody can account for.
    expect(lockoutExact({ softAfter: 5, burst: [401, 503, 401, 401, 423], after: [423], rightPasswordWhileLocked: 423 })).toBe(false);
    expect(lockoutExact({ softAfter: 5, burst: [401, 401, 401, 401, 401, 423], after: [], rightPasswordWhileLocked: 423 })).toBe(true);
    // A sixth guess judged: the count leaked one.
    expect(lockoutExact({ softAfter: 5, burst: [401, 401, 401, 401, 401, 401, 423], after: [], rightPasswordWhileLocked: 423 })).toBe(
      false,
    );
    // The right password got in while locked.
    expect(lockoutExact({ softAfter: 5, burst: [401, 401, 401, 401, 401, 423], after: [], rightPasswordWhileLocked: 200 })).toBe(false);
  });

  it("needs at least one probe of each kind", () => {
    expect(limitsExact({ ip: [], lockout: [] }).ok).toBe(false);
  });
});

describe("flat across the run", () => {
  it("p99 is the nearest-rank 99th percentile", () => {
    expect(p99(Array.from({ length: 100 }, (_, i) => i + 1))).toBe(99);
    expect(p99([5])).toBe(5);
    expect(p99([])).toBe(0);
  });

  it("allows a factor or an absolute slack, and no more", () => {
    expect(flat(400, 590, { factor: 1.5, slack: 100 })).toBe(true);
    expect(flat(100, 190, { factor: 1.5, slack: 100 })).toBe(true);
    expect(flat(400, 700, { factor: 1.5, slack: 100 })).toBe(false);
    expect(flat(0, 10, { factor: 1.5, slack: 100 })).toBe(false);
  });
});

describe("the soak's webhook receiver", () => {
  it("checks Standard Webhooks signatures and de-duplicates by webhook-id", async () => {
    const secret = newWebhookSecret();
    const receiver = await startReceiver({ secret, failRate: 0 });
    try {
      const send = async (id: string, body: string, key = secret) => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const raw = Uint8Array.from(atob(key.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
        const hmac = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
        const signed = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(`${id}.${timestamp}.${body}`)));
        const mac = btoa(String.fromCharCode(...signed));
        return fetch(receiver.url, {
          method: "POST",
          body,
          headers: { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${mac}` },
        });
      };
      expect((await send("msg_1", '{"type":"user.created"}')).status).toBe(204);
      expect((await send("msg_1", '{"type":"user.created"}')).status).toBe(204);
      expect((await send("msg_2", "{}", newWebhookSecret())).status).toBe(400);
      expect(receiver.received).toEqual(new Map([["msg_1", 2]]));
      expect(receiver.counts.badSignatures).toBe(1);
      expect(signedBy(secret, { id: "x", timestamp: "1", body: "", signatures: "v1,AAAA" })).toBe(false);
    } finally {
      await receiver.close();
    }
  });
});
