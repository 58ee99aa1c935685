import { describe, expect, it } from "vitest";
import { createGatehouse } from "../src/client/gatehouse";
import { call, freshIp, register } from "./helpers";
import { enableTotp, totpCode } from "./totp";

/** The browser client's two-step sign-in against the real worker (cookie mode, as a browser sends it). */

const APP = "https://app.example.com"; // in CORS_ORIGINS (vitest.config.ts)

/** The client's requests, delivered to the worker as a browser on APP would send them. */
async function viaWorker(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  return call(url.pathname + url.search, {
    method: request.method,
    headers: { ...Object.fromEntries([...request.headers].filter(([name]) => name !== "content-type")), Origin: APP },
    ...(request.method === "POST" ? { body: await request.text() } : {}),
    ip: freshIp(),
  });
}

describe("the browser client's second step", () => {
  it("signIn surfaces {mfaRequired, mfaToken, methods}; completeMfa signs in", async () => {
    const user = await register();
    const { secret, confirmedStep } = await enableTotp(user);
    const gh = createGatehouse({ baseUrl: "https://auth.example.com", fetch: viaWorker });
    const first = await gh.signIn({ email: user.email, password: user.password });
    expect(first).toMatchObject({ mfaRequired: true, methods: ["totp", "recovery_code"] });
    if (!("mfaRequired" in first)) throw new Error("expected a second step");
    await expect(gh.completeMfa({ mfaToken: first.mfaToken, method: "totp", code: "000000" })).rejects.toMatchObject({
      status: 401,
      code: "invalid_code",
    });
    const session = await gh.completeMfa({ mfaToken: first.mfaToken, method: "totp", code: totpCode(secret, confirmedStep + 1) });
    expect(session.user.email).toBe(user.email);
    expect(session).not.toHaveProperty("refresh_token");
    expect(await gh.getAccessToken()).toBe(session.access_token);
    // login() keeps its contract: a second step is an error with the problem attached.
    await expect(gh.login({ email: user.email, password: user.password })).rejects.toMatchObject({ code: "mfa_required" });
    gh.close();
  });
});
