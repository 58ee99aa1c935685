import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { LimitPolicy } from "../src/config/rate-limits";
import type { SecondFactorAnswer } from "../src/kernel/objects";

/**
 * What the objects give back when a sign-in failed on a dependency after its proof was accepted
 * (a 503): only what that answer took, never something accepted or issued since. The end-to-end
 * retries are in email-code.test.ts and mfa.test.ts; these are the races a test over HTTP cannot stage.
 */

const object = (name: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`${name}:${crypto.randomUUID()}`));
const policy: LimitPolicy = { name: "test", limit: 100, window: 3600 };
const PERIOD_MS = 30_000;

function totp(steps: number[], token?: { id: string; expiresAt: number }): SecondFactorAnswer {
  return {
    ...(token ? { token } : {}),
    budget: { action: "mfa:device:test", policies: [policy] },
    verdict: { kind: "totp", steps, periodMs: PERIOD_MS },
    notice: policy,
  };
}

describe("a TOTP answer given back", () => {
  it("restores the step before it and the token, unless a later step was accepted since", async () => {
    const stub = object("user");
    const now = Date.now();
    // Steps of the present: the object forgets one once no code of it can be presented.
    const s = Math.floor(now / PERIOD_MS);
    const token = { id: crypto.randomUUID(), expiresAt: now + 300_000 };
    const first = await stub.secondFactorAnswer(totp([s], token), now);
    expect(first).toMatchObject({ ok: true, step: s, previousStep: null });
    // Given back: the token and step s work again, once.
    await stub.secondFactorGiveBack({ tokenId: token.id, step: s, previousStep: null }, now);
    expect(await stub.secondFactorAnswer(totp([s], token), now)).toMatchObject({ ok: true, step: s });
    expect(await stub.secondFactorAnswer(totp([s], token), now)).toMatchObject({ ok: false, reason: "invalid_token" });

    // Step s + 1 accepted by another sign-in after s: giving s back changes nothing.
    expect(await stub.secondFactorAnswer(totp([s + 1]), now)).toMatchObject({ ok: true, step: s + 1, previousStep: s });
    await stub.secondFactorGiveBack({ tokenId: null, step: s, previousStep: null }, now);
    expect(await stub.secondFactorAnswer(totp([s]), now)).toMatchObject({ ok: false, reason: "invalid_code" });
    expect(await stub.secondFactorAnswer(totp([s + 1]), now)).toMatchObject({ ok: false, reason: "invalid_code" });
    // Giving s + 1 back goes to s, not before it: s stays spent.
    await stub.secondFactorGiveBack({ tokenId: null, step: s + 1, previousStep: s }, now);
    expect(await stub.secondFactorAnswer(totp([s]), now)).toMatchObject({ ok: false, reason: "invalid_code" });
    expect(await stub.secondFactorAnswer(totp([s + 1]), now)).toMatchObject({ ok: true, step: s + 1 });
  });

  it("never revives an expired token", async () => {
    const stub = object("user");
    const now = Date.now();
    const token = { id: crypto.randomUUID(), expiresAt: now + 1_000 };
    expect(await stub.secondFactorAnswer(totp([Math.floor(now / PERIOD_MS)], token), now)).toMatchObject({ ok: true });
    await stub.secondFactorGiveBack({ tokenId: token.id, step: Math.floor(now / PERIOD_MS), previousStep: null }, now + 2_000);
    expect(await stub.secondFactorAnswer(totp([Math.floor(now / PERIOD_MS) + 1], token), now + 2_000)).toMatchObject({
      ok: false,
      reason: "invalid_token",
    });
  });
});

describe("a sign-in code given back", () => {
  const check = (hash: string) => ({ hash, strangers: null, notice: policy });

  async function liveCode(stub: ReturnType<typeof object>, hash: string, now: number) {
    expect(await stub.prepareSignInCode({ hash, expiresAt: now + 600_000, replaceLive: true, strangers: null }, now)).toEqual({
      prepared: true,
    });
    expect(await stub.activateSignInCode(hash, now)).toBe(true);
  }

  it("is live again until its own expiry, and takes one sign-in", async () => {
    const stub = object("mailbox");
    const now = Date.now();
    await liveCode(stub, "a", now);
    const accepted = await stub.checkSignInCode(check("a"), now);
    expect(accepted).toEqual({ result: "ok", expiresAt: now + 600_000 });
    expect(await stub.restoreSignInCode("a", now + 600_000, now)).toBe(true);
    expect(await stub.checkSignInCode(check("a"), now)).toMatchObject({ result: "ok" });
    expect(await stub.checkSignInCode(check("a"), now)).toMatchObject({ result: "wrong" });
    // Past its expiry nothing comes back.
    expect(await stub.restoreSignInCode("a", now + 600_000, now + 600_001)).toBe(false);
  });

  it("never replaces a code prepared since", async () => {
    const stub = object("mailbox");
    const now = Date.now();
    await liveCode(stub, "old", now);
    expect(await stub.checkSignInCode(check("old"), now)).toMatchObject({ result: "ok" });
    await liveCode(stub, "new", now);
    expect(await stub.restoreSignInCode("old", now + 600_000, now)).toBe(false);
    expect(await stub.checkSignInCode(check("old"), now)).toMatchObject({ result: "wrong" });
    expect(await stub.checkSignInCode(check("new"), now)).toMatchObject({ result: "ok" });
  });
});
