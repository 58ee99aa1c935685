import { afterAll, describe, expect, it } from "vitest";
import { BREACHED_SAMPLES, DUMMY_TOKEN, startFakeServices, type FakeServices } from "../../scripts/fake-services.mjs";
import { type DevServer, freePort, makeTempDir, removeDir, startDev, waitUntilHealthy } from "../node/dev-server.mjs";

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
    await waitUntilHealthy(base, dev);
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

    // 80 clients, one failure each, at 80 accounts: more than 60 a minute.
    const failures = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        post("/api/v1/auth/login", { email: `target${i}@example.com`, password: "Autumn2026!guess" }, `203.0.113.${i + 1}`),
      ),
    );
    expect(failures.map((r) => r.status)).toEqual(Array(80).fill(401));

    // The monitor's alarm runs every 10 s and logins read the mode through a 10 s cache: a new-device
    // login is challenged within about 25 s. Bounded at 60 s.
    const deadline = Date.now() + 60_000;
    let challenged: Response | null = null;
    for (let i = 0; Date.now() < deadline; i++) {
      const res = await post("/api/v1/auth/login", owner, `192.0.2.${(i % 250) + 1}`);
      if (res.status === 403) {
        challenged = res;
        break;
      }
      expect(res.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(challenged, dev.output().slice(-3000)).not.toBeNull();
    expect(await challenged!.json()).toMatchObject({ code: "challenge_required", site_key: TEST_SITE_KEY });
    expect(announced).toBe(true);

    const passed = await post("/api/v1/auth/login", { ...owner, turnstile_token: DUMMY_TOKEN }, "192.0.2.251");
    expect(passed.status).toBe(200);
    const forged = await post("/api/v1/auth/login", { ...owner, turnstile_token: "forged" }, "192.0.2.252");
    expect(forged.status).toBe(403);
  }, 150_000);
});
