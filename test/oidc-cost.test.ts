import { afterEach, describe, expect, it, vi } from "vitest";
import { call, register, superuser } from "./helpers";
import { Browser } from "./pages-browser";
import { redirectTarget } from "./oidc-helpers";

/**
 * What the OpenID provider's token endpoint costs far from the D1 primary (issue #32: "the code and
 * refresh grants pay one far round trip at most"): the request log line counts storage round trips
 * (src/storage-meter.ts), which is what the latency work measures.
 */

const REDIRECT = "https://app.partner.example/callback";

function requestLines(): () => { route: string | null; storage: { round_trips: number; d1: number; kv: number } }[] {
  const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
  return () =>
    spy.mock.calls
      .map(([line]) => (typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as { event: string }) : null))
      .filter((line): line is never => line?.event === "request");
}

afterEach(() => vi.restoreAllMocks());

async function challengePair() {
  const verifier = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  return { verifier, challenge };
}

describe("the token endpoint's cost", () => {
  it("a code grant and a refresh are one round trip each to D1", async () => {
    const admin = await superuser();
    const created = await call("/api/v1/admin/oauth/clients", {
      token: admin.accessToken,
      body: { name: "Cost", type: "public", first_party: true, redirect_uris: [REDIRECT] },
    });
    const { client_id } = await created.json<{ client_id: string }>();
    const user = await register();
    const browser = new Browser();
    const login = await browser.open("/login");
    expect((await browser.submit(login, "/login", { identifier: user.email, password: user.password })).status).toBe(303);
    const { verifier, challenge } = await challengePair();
    const query = new URLSearchParams({
      client_id,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "openid offline_access",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const answer = await browser.get(`/oauth/authorize?${query.toString()}`);
    const code = new URL(redirectTarget(answer)!).searchParams.get("code")!;
    expect(code).toBeTruthy();

    const lines = requestLines();
    const form = (fields: Record<string, string>) => ({
      method: "POST",
      body: new URLSearchParams({ client_id, ...fields }).toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    const tokens = await call(
      "/oauth/token",
      form({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }),
    );
    expect(tokens.status, await tokens.clone().text()).toBe(200);
    const { refresh_token } = await tokens.json<{ refresh_token: string }>();
    const refreshed = await call("/oauth/token", form({ grant_type: "refresh_token", refresh_token }));
    expect(refreshed.status).toBe(200);
    const [codeLine, refreshLine] = lines();
    // The first call of this isolate also reads the client (from the nearest replica; then cached a minute).
    expect(codeLine!.storage).toMatchObject({ round_trips: 2, d1: 2, kv: 0 });
    expect(refreshLine!.storage).toMatchObject({ round_trips: 1, d1: 1, kv: 0 });

    // Warm: a second code grant is its one batch.
    const second = await challengePair();
    const again = await browser.get(
      `/oauth/authorize?${new URLSearchParams({ ...Object.fromEntries(query), code_challenge: second.challenge }).toString()}`,
    );
    const code2 = new URL(redirectTarget(again)!).searchParams.get("code")!;
    const before = lines().length;
    expect(
      (
        await call(
          "/oauth/token",
          form({ grant_type: "authorization_code", code: code2, redirect_uri: REDIRECT, code_verifier: second.verifier }),
        )
      ).status,
    ).toBe(200);
    expect(lines()[before]!.storage).toMatchObject({ round_trips: 1, d1: 1, kv: 0 });
  });
});
