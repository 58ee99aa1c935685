import { afterEach, describe, expect, it, vi } from "vitest";
import { createGatehouse, GatehouseError } from "../../src/client/gatehouse";
import { FAKE_CHALLENGE, FAKE_EMAIL_CODE, FAKE_MFA_TOKEN, FAKE_PASSKEY_ID, FAKE_TOTP_CODE, type FakeGatehouse } from "./fake-gatehouse";
import { broadcastOf, browser, closeTabs, PASSWORD, settle, track } from "./tabs";

/**
 * The browser client, in Node, as tabs of one browser (see tabs.ts). Sessions that end elsewhere
 * (revocation) are revocation.test.ts.
 */

afterEach(() => {
  closeTabs();
  vi.unstubAllGlobals();
});

describe("a sign-in with a second step", () => {
  it("signIn surfaces {mfaRequired, mfaToken, methods}; completeMfa finishes it in cookie mode", async () => {
    const { server, tab } = browser();
    const gh = tab();
    const first = await gh.signIn({ email: "mfa.ada@example.com", password: PASSWORD });
    expect(first).toEqual({ mfaRequired: true, enrolment: false, mfaToken: FAKE_MFA_TOKEN, methods: ["totp", "recovery_code"] });
    // An account the policy stops until it enrols: the same shape, marked.
    expect(await gh.signIn({ email: "enrol.ada@example.com", password: PASSWORD })).toEqual({
      mfaRequired: true,
      enrolment: true,
      mfaToken: FAKE_MFA_TOKEN,
      methods: ["totp", "passkey"],
    });
    expect(await gh.getAccessToken()).toBeNull();
    await expect(gh.completeMfa({ mfaToken: FAKE_MFA_TOKEN, method: "totp", code: "000000" })).rejects.toMatchObject({
      status: 401,
      code: "invalid_code",
    });
    const session = await gh.completeMfa({ mfaToken: FAKE_MFA_TOKEN, method: "totp", code: FAKE_TOTP_CODE });
    expect(await gh.getAccessToken()).toBe(session.access_token);
    const mfa = server.requests.find((r) => r.url.endsWith("/auth/mfa"))!;
    expect(mfa.headers.get("gatehouse-token-delivery")).toBe("cookie");
    expect(mfa.credentials).toBe("include");
    // login() keeps its contract: a second step is an error carrying the problem.
    await expect(gh.login({ email: "mfa.ada@example.com", password: PASSWORD })).rejects.toMatchObject({ code: "mfa_required" });
    // signIn without a second step is a session, like login().
    expect(await gh.signIn({ email: "ada@example.com", password: PASSWORD })).toHaveProperty("access_token");
  });
});

describe("a sign-in with a mailed code", () => {
  it("requestEmailCode resolves on 202; verifyEmailCode signs in, or surfaces the second step as signIn does", async () => {
    const { server, tab } = browser();
    const gh = tab();
    await expect(gh.requestEmailCode("ada@example.com")).resolves.toBeUndefined();
    const asked = server.requests.find((r) => r.url.endsWith("/api/v1/auth/email-code"))!;
    expect(asked.method).toBe("POST");
    expect(asked.headers.get("gatehouse-token-delivery")).toBe("cookie");
    expect(asked.credentials).toBe("include");
    expect(await asked.json()).toEqual({ email: "ada@example.com" });

    await expect(gh.verifyEmailCode({ email: "ada@example.com", code: "00000000" })).rejects.toMatchObject({
      status: 401,
      code: "invalid_code",
    });
    expect(await gh.getAccessToken()).toBeNull();
    expect(await gh.verifyEmailCode({ email: "mfa.ada@example.com", code: FAKE_EMAIL_CODE })).toEqual({
      mfaRequired: true,
      enrolment: false,
      mfaToken: FAKE_MFA_TOKEN,
      methods: ["totp", "recovery_code"],
    });
    expect(await gh.getAccessToken()).toBeNull();

    const session = await gh.verifyEmailCode({ email: "ada@example.com", code: FAKE_EMAIL_CODE });
    expect(session).toHaveProperty("access_token");
    expect(await gh.getAccessToken()).toBe((session as { access_token: string }).access_token);
    const verified = server.requests.filter((r) => r.url.endsWith("/api/v1/auth/email-code/verify")).at(-1)!;
    expect(verified.headers.get("gatehouse-token-delivery")).toBe("cookie");
    expect(verified.credentials).toBe("include");
  });
});

/**
 * A stand-in for the browser's WebAuthn: `parse…FromJSON` keep the JSON (so the test sees what
 * reached `navigator.credentials`), and the "authenticator" answers with a credential whose
 * `toJSON()` carries the challenge it was given as its `clientDataJSON` (what the fake checks).
 */
function stubWebAuthn(credentialId = FAKE_PASSKEY_ID) {
  const calls: { get: CredentialRequestOptions[]; create: CredentialCreationOptions[] } = { get: [], create: [] };
  const answer = (publicKey: { challenge: unknown }) => ({
    toJSON: () => ({ id: credentialId, rawId: credentialId, type: "public-key", response: { clientDataJSON: publicKey.challenge } }),
  });
  vi.stubGlobal("PublicKeyCredential", {
    parseRequestOptionsFromJSON: (json: unknown) => ({ parsed: "request", ...(json as object) }),
    parseCreationOptionsFromJSON: (json: unknown) => ({ parsed: "creation", ...(json as object) }),
  });
  vi.stubGlobal("navigator", {
    locks: navigator.locks,
    credentials: {
      get: (options: CredentialRequestOptions) => {
        calls.get.push(options);
        return Promise.resolve(answer(options.publicKey as unknown as { challenge: unknown }));
      },
      create: (options: CredentialCreationOptions) => {
        calls.create.push(options);
        return Promise.resolve(answer(options.publicKey as unknown as { challenge: unknown }));
      },
    },
  });
  return calls;
}

describe("passkeys", () => {
  it("signInWithPasskey: request options, navigator.credentials.get, then the assertion in cookie mode", async () => {
    const calls = stubWebAuthn();
    const { server, tab } = browser();
    const gh = tab();
    const session = await gh.signInWithPasskey();
    expect(await gh.getAccessToken()).toBe(session.access_token);
    expect(calls.get).toHaveLength(1);
    expect(calls.get[0]!.publicKey).toMatchObject({ parsed: "request", challenge: FAKE_CHALLENGE, allowCredentials: [] });
    expect(calls.get[0]!.mediation).toBeUndefined();
    const sent = server.requests.find((r) => r.url.endsWith("/api/v1/auth/passkey"))!;
    expect(sent.headers.get("gatehouse-token-delivery")).toBe("cookie");
    expect(sent.credentials).toBe("include");
    expect(await sent.json()).toEqual({
      credential: { id: FAKE_PASSKEY_ID, rawId: FAKE_PASSKEY_ID, type: "public-key", response: { clientDataJSON: FAKE_CHALLENGE } },
    });
  });

  it("signInWithPasskey passes conditional mediation and its signal on; a refused passkey rejects and signs nobody in", async () => {
    const calls = stubWebAuthn("c29tZW9uZS1lbHNl");
    const { tab } = browser();
    const gh = tab();
    const signal = new AbortController().signal;
    await expect(gh.signInWithPasskey({ mediation: "conditional", signal })).rejects.toMatchObject({
      status: 401,
      code: "invalid_credentials",
    });
    expect(calls.get[0]).toMatchObject({ mediation: "conditional", signal });
    expect(await gh.getAccessToken()).toBeNull();
  });

  it("addPasskey: creation options and the registration with the current access token, and the name", async () => {
    const calls = stubWebAuthn();
    const { server, tab } = browser();
    const gh = tab();
    const session = await gh.login({ email: "ada@example.com", password: PASSWORD });
    const added = await gh.addPasskey("Laptop");
    expect(added).toMatchObject({ name: "Laptop", backed_up: true });
    expect(calls.create[0]!.publicKey).toMatchObject({ parsed: "creation", challenge: FAKE_CHALLENGE, rp: { id: "example.com" } });
    const options = server.requests.find((r) => r.url.endsWith("/users/me/passkeys/options"))!;
    expect(options.headers.get("authorization")).toBe(`Bearer ${session.access_token}`);
    expect(server.passkeys).toEqual([{ sub: session.user.id, id: FAKE_PASSKEY_ID, name: "Laptop" }]);
  });

  it("addPasskey signed out rejects with Gatehouse's 401 and asks the authenticator nothing", async () => {
    const calls = stubWebAuthn();
    const { tab } = browser();
    await expect(tab().addPasskey()).rejects.toBeInstanceOf(GatehouseError);
    expect(calls.create).toEqual([]);
  });
});

describe("sign-in and the access token", () => {
  it("keeps the access token in memory and sends no refresh while it is valid", async () => {
    const { server, tab } = browser();
    const gh = tab();
    const session = await gh.login({ email: "ada@example.com", password: PASSWORD });
    expect(session).not.toHaveProperty("refresh_token");
    expect(await gh.getAccessToken()).toBe(session.access_token);
    expect(await gh.getAccessToken()).toBe(session.access_token);
    expect(server.refreshCount).toBe(0);
    const login = server.requests[0]!;
    expect(login.headers.get("gatehouse-token-delivery")).toBe("cookie");
    expect(login.credentials).toBe("include");
  });

  it("refreshes a token that counts as expired once, however many callers ask at the same time", async () => {
    const { server, clock, tab } = browser();
    const gh = tab();
    const { access_token: old } = await gh.login({ email: "ada@example.com", password: PASSWORD });
    clock.offset = 45_000; // 60 s tokens with 30 s of skew: expired by this clock
    const tokens = await Promise.all(Array.from({ length: 5 }, () => gh.getAccessToken()));
    expect(server.refreshCount).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(old);
    const refresh = server.requests.find((r) => r.url.endsWith("/auth/refresh"))!;
    expect(refresh.headers.get("gatehouse-token-delivery")).toBe("cookie");
    expect(refresh.credentials).toBe("include");
  });

  it("a skew longer than the token's life still leaves it usable for half of it", async () => {
    const { server, clock, tab } = browser();
    const gh = tab({ skewSeconds: 3600 });
    const { access_token } = await gh.login({ email: "ada@example.com", password: PASSWORD });
    clock.offset = 29_000;
    expect(await gh.getAccessToken()).toBe(access_token);
    clock.offset = 31_000;
    expect(await gh.getAccessToken()).not.toBe(access_token);
    expect(server.refreshCount).toBe(1);
  });

  it("a page opened while signed out gets null, and nobody is told of a sign-out", async () => {
    const { server, tab } = browser();
    const gh = tab();
    expect(await gh.getAccessToken()).toBeNull();
    expect(server.refreshCount).toBe(1);
    expect(gh.signOuts).toEqual([]);
  });

  it("registration signs in (201) or hands back the verification message (202)", async () => {
    const { tab } = browser();
    const gh = tab();
    expect(await gh.register({ email: "verify@example.com", password: PASSWORD, full_name: "V" })).toEqual({
      message: "Check your inbox.",
    });
    const signedIn = await gh.register({ email: "ada@example.com", password: PASSWORD, full_name: "Ada" });
    expect(await gh.getAccessToken()).toBe("access_token" in signedIn ? signedIn.access_token : "missing");
  });

  it("a refresh Gatehouse cannot serve (503) throws and signs nobody out", async () => {
    const { server, clock, tab } = browser();
    const gh = tab();
    await gh.login({ email: "ada@example.com", password: PASSWORD });
    server.failRefreshWith = 503;
    clock.offset = 45_000;
    const error = await gh.getAccessToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ status: 503, code: "service_unavailable" });
    expect(gh.signOuts).toEqual([]);
    server.failRefreshWith = null;
    expect(await gh.getAccessToken()).toEqual(expect.any(String));
  });
});

describe("fetch", () => {
  it("adds the bearer token", async () => {
    const { server, tab } = browser();
    const gh = tab();
    const { access_token } = await gh.login({ email: "ada@example.com", password: PASSWORD });
    const res = await gh.fetch(`${server.base}/api/v1/users/me`);
    expect(res.status).toBe(200);
    expect(server.requests.at(-1)!.headers.get("authorization")).toBe(`Bearer ${access_token}`);
  });

  it("on 401 token_expired refreshes once and retries with the same body", async () => {
    const { server, tab } = browser();
    const gh = tab();
    await gh.login({ email: "ada@example.com", password: PASSWORD });
    server.expireAccessTokens(); // Gatehouse says expired although the client's clock does not
    const res = await gh.fetch(`${server.base}/api/v1/echo`, { method: "POST", body: "payload" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: "payload" });
    expect(server.refreshCount).toBe(1);
    expect(gh.signOuts).toEqual([]);
  });
});

describe("tabs", () => {
  it("a sign-in in one tab reaches the others", async () => {
    const { server, tab } = browser();
    const [a, b] = [tab(), tab()];
    const { access_token } = await a.login({ email: "ada@example.com", password: PASSWORD });
    await settle();
    expect(await b.getAccessToken()).toBe(access_token);
    expect(server.refreshCount).toBe(0);
  });

  it("four tabs whose tokens expire together send exactly one refresh, and all get its token", async () => {
    expect(globalThis.navigator?.locks, "Web Locks need Node 22+: run it through npm test (the pinned Node 24)").toBeDefined();
    const { server, clock, tab } = browser();
    const tabs = [tab(), tab(), tab(), tab()];
    await tabs[0]!.login({ email: "ada@example.com", password: PASSWORD });
    await settle();
    for (let round = 1; round <= 5; round++) {
      clock.offset += 45_000;
      server.serverNow += 45_000;
      const tokens = await Promise.all(tabs.map((t) => t.getAccessToken()));
      expect(server.refreshCount, `round ${round}`).toBe(round);
      expect(new Set(tokens).size).toBe(1);
      const res = await tabs[3]!.fetch(`${server.base}/api/v1/users/me`);
      expect(res.status).toBe(200);
    }
  });

  it("a logout in one tab signs the others out, and only that session's", async () => {
    const { server, tab } = browser();
    const [a, b, c] = [tab(), tab(), tab()];
    await a.login({ email: "ada@example.com", password: PASSWORD });
    await settle();
    expect(await c.getAccessToken()).toEqual(expect.any(String));
    await b.logout();
    await settle();
    expect([a.signOuts, b.signOuts, c.signOuts]).toEqual([["other_tab"], ["logout"], ["other_tab"]]);
    expect(server.cookie).toBeNull();
    expect(await a.getAccessToken()).toBeNull();
  });

  it("a refresh Gatehouse refuses (the session was revoked) signs every tab of that session out", async () => {
    const { server, clock, tab } = browser();
    const [a, b] = [tab(), tab()];
    await a.login({ email: "ada@example.com", password: PASSWORD });
    await settle();
    server.cookie = "stolen-and-revoked";
    clock.offset = 45_000;
    expect(await a.getAccessToken()).toBeNull();
    await settle();
    expect([a.signOuts, b.signOuts]).toEqual([["session_ended"], ["other_tab"]]);
  });

  it("a tab that never had a token and finds no session tells no one", async () => {
    const { server, tab } = browser();
    const a = tab();
    await a.login({ email: "ada@example.com", password: PASSWORD });
    // A second client that reaches Gatehouse without this browser's cookie: its refresh is refused.
    const stranger = track(createGatehouse({ baseUrl: server.base, fetch: (input, init) => fetchWithoutCookie(server, input, init) }));
    expect(await stranger.getAccessToken()).toBeNull();
    await settle();
    expect(a.signOuts).toEqual([]);
    expect(await a.getAccessToken()).toEqual(expect.any(String));
  });

  it("without Web Locks, a tab waits for the refresh another tab announced", async () => {
    vi.stubGlobal("navigator", {});
    const { server, clock, tab } = browser();
    const [a, b] = [tab(), tab()];
    await a.login({ email: "ada@example.com", password: PASSWORD });
    await settle();
    clock.offset = 45_000;
    const announced = broadcastOf(server.base, "refreshing");
    const first = a.getAccessToken();
    await announced; // b has heard "refreshing" before it asks
    const [tokenA, tokenB] = await Promise.all([first, b.getAccessToken()]);
    expect(server.refreshCount).toBe(1);
    expect(tokenB).toBe(tokenA);
  });

  it("without Web Locks, two tabs that refresh at the same instant both stay signed in (the grace window)", async () => {
    vi.stubGlobal("navigator", {});
    const { server, clock, tab } = browser();
    const [a, b] = [tab(), tab()];
    await a.login({ email: "ada@example.com", password: PASSWORD });
    await settle();
    clock.offset = 45_000;
    const tokens = await Promise.all([a.getAccessToken(), b.getAccessToken()]);
    expect(server.refreshCount).toBe(2);
    expect(tokens).toEqual([expect.any(String), expect.any(String)]);
    expect([a.signOuts, b.signOuts]).toEqual([[], []]);
  });
});

/** Gatehouse as seen by a client without this browser's cookie jar. */
async function fetchWithoutCookie(server: FakeGatehouse, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const jar = server.cookie;
  server.cookie = null;
  try {
    return await server.fetch(input, init);
  } finally {
    server.cookie = jar;
  }
}
