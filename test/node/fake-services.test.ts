import { afterAll, describe, expect, it } from "vitest";
import { BREACHED_SAMPLES, DUMMY_TOKEN, startFakeServices, type FakeServices } from "../../scripts/fake-services.mjs";

/** `npm run fakes`, the stand-ins test/dev/attack-dev.test.ts points a real `npm run dev` at. */
describe("the fake range API and siteverify", () => {
  let fakes: FakeServices | undefined;
  afterAll(() => fakes?.close());

  it("answers padded ranges that contain the samples, and accepts only the dummy token", async () => {
    fakes = await startFakeServices();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(BREACHED_SAMPLES[0])));
    const hash = [...digest]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("")
      .toUpperCase();
    const lines = (await (await fetch(`${fakes.rangeUrl}${hash.slice(0, 5)}`)).text()).split("\r\n");
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.some((l) => l.startsWith(`${hash.slice(5)}:`) && Number(l.split(":")[1]) > 0)).toBe(true);
    const verify = async (response: string) => {
      const body = new FormData();
      body.append("secret", "s");
      body.append("response", response);
      return (await fetch(fakes!.verifyUrl, { method: "POST", body })).json<{ success: boolean }>();
    };
    expect(await verify(DUMMY_TOKEN)).toMatchObject({ success: true });
    expect(await verify("forged")).toMatchObject({ success: false });
  });
});
