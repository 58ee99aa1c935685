import { afterAll, describe, expect, it } from "vitest";
import { BREACHED_SAMPLES, DUMMY_TOKEN, startFakeServices, type FakeServices } from "../../scripts/fake-services.mjs";
import { type DevServer, freePort, makeTempDir, pollUntil, removeDir, startDev, waitUntilHealthy } from "../node/dev-server.mjs";

/**
 * Attack protection under `npm run dev`, with the loopback fakes of `npm run fakes` (tested on their
 * own in test/node/fake-services.test.ts): the breached-password check against the fake range API,
 * and a spraying burst from many clients (CF-Connecting-IP reaches the worker locally) that the
 * monitor's real alarm turns into the challenge, passed through the fake siteverify.
 *
 * This file starts a dev server of its own rather than using the shared one: "under attack" is one
 * mode for the whole deployment, and it would challenge the other files' logins.
 */

const TEST_SITE_KEY = "1x00000000000000000000AA";

describe("attack protection under npm run dev", () => {
  let server: DevServer | undefined;
  let fakes: FakeServices | undefined;
  const persistDir = makeTempDir("gatehouse-attack-test-");

  afterAll(async () => {
    await server?.stop();
    await fakes?.close();
    removeDir(persistDir);
  }, 30_000);

  it("refuses a breached password, then challenges logins once a spraying burst is seen", async () => {
    fakes = await startFakeServices();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let announced = false;
    const dev = startDev(
      [
        "--port",
        String(port),
        "--persist-to",
        persistDir,
        "--var",
        "BREACHED_PASSWORD_CHECK:register",
        "--var",
        `HIBP_API_URL:${fakes.rangeUrl}`,
        "--var",
        `TURNSTILE_SITE_KEY:${TEST_SITE_KEY}`,
        "--var",
        "TURNSTILE_SECRET:1x0000000000000000000000000000000AA",
        "--var",
        `TURNSTILE_VERIFY_URL:${fakes.verifyUrl}`,
      ],
      { onOutput: (text) => (announced ||= text.includes('"event":"attack.spraying_started"')) },
    );
    server = dev;
    await waitUntilHealthy(base, dev, 120_000);
    const output = () => dev.output().slice(-3000);
    const post = (path: string, body: unknown, ip: string) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "CF-Connecting-IP": ip },
        body: JSON.stringify(body),
      });

    const breached = await post(
      "/api/v1/auth/register",
      { email: "b@example.com", password: BREACHED_SAMPLES[1], full_name: "B" },
      "198.51.100.1",
    );
    expect(breached.status).toBe(422);
    expect(await breached.json()).toMatchObject({ code: "weak_password" });
    const owner = { email: "owner@example.com", password: "a sound passphrase, kept at home" };
    const registered = await post("/api/v1/auth/register", { ...owner, full_name: "Owner" }, "198.51.100.2");
    expect(registered.status, await registered.clone().text()).toBe(201);

    // 80 clients in 80 networks, one failure each, at 80 accounts: more than 60 a minute, and nothing a per-IP or
    // per-account limit refuses. The monitor decides on its own clock (an alarm every 10 s) while the
    // burst runs, so however long the burst takes on a busy machine, it may switch to "under attack"
    // before the last of these logins: those are then challenged (403), never anything else. It can
    // switch only once 60 failures were counted, so at least 60 are plain 401s.
    const failures = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        post("/api/v1/auth/login", { email: `target${i}@example.com`, password: "Autumn2026!guess" }, `198.18.${i + 1}.1`),
      ),
    );
    const statuses = failures.map((r) => r.status);
    expect(
      statuses.filter((s) => s !== 401 && s !== 403),
      JSON.stringify(statuses),
    ).toEqual([]);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(60);
    for (const challenged of failures.filter((r) => r.status === 403)) {
      expect(await challenged.json()).toMatchObject({ code: "challenge_required" });
    }

    // The condition, not a guess at its timing: the monitor announces the attack (a warning line on
    // the server's output), then logins see it once the isolate's 10 s view of the mode runs out.
    // Within 60 s of the burst in all.
    const deadline = Date.now() + 60_000;
    await pollUntil(() => (announced ? true : undefined), {
      what: "attack.spraying_started on the server's output",
      timeoutMs: deadline - Date.now(),
      detail: output,
    });
    // Probed with unknown accounts from fresh clients (a wrong password each), so the owner's own
    // hourly login budget is not spent waiting; until the switch they are plain failures.
    let probes = 0;
    await pollUntil(
      async () => {
        probes += 1;
        const res = await post(
          "/api/v1/auth/login",
          { email: `probe${probes}@example.com`, password: "Autumn2026!guess" },
          `192.0.2.${probes}`,
        );
        if (res.status === 403) return true;
        expect(res.status, await res.text()).toBe(401);
        return undefined;
      },
      { what: "a login challenged", timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 500, detail: output },
    );

    // The owner, from a new device, is challenged too; the dummy token passes, a forged one does not.
    const challenged = await post("/api/v1/auth/login", owner, "198.51.100.3");
    expect(challenged.status).toBe(403);
    expect(await challenged.json()).toMatchObject({ code: "challenge_required", site_key: TEST_SITE_KEY });
    const passed = await post("/api/v1/auth/login", { ...owner, turnstile_token: DUMMY_TOKEN }, "198.51.100.4");
    expect(passed.status).toBe(200);
    const forged = await post("/api/v1/auth/login", { ...owner, turnstile_token: "forged" }, "198.51.100.5");
    expect(forged.status).toBe(403);
  });
});
