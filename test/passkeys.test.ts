import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { auditRows, call, captureLogs, env, freshIp, outbox, problem, register, type Registered } from "./helpers";
import { enableTotp } from "./totp";
import { SoftwareAuthenticator, type AuthenticatorOverrides } from "./webauthn-authenticator";

/** Passkeys over HTTP with a software authenticator (test/webauthn-authenticator.ts), as API.md v1.2 pins them. */

const ORIGIN = "https://auth.example.com"; // PUBLIC_URL in vitest.config.ts

async function addPasskey(
  user: Pick<Registered, "accessToken">,
  authenticator: SoftwareAuthenticator,
  overrides: AuthenticatorOverrides = {},
) {
  const options = await (await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken })).json<never>();
  const credential = await authenticator.register(options, ORIGIN, overrides);
  return call("/api/v1/users/me/passkeys", { token: user.accessToken, body: { credential, name: "Laptop" } });
}

async function signIn(authenticator: SoftwareAuthenticator, overrides: AuthenticatorOverrides = {}, ip = freshIp()) {
  const options = await (await call("/api/v1/auth/passkey/options", { body: {}, ip })).json<never>();
  const credential = await authenticator.assert(options, ORIGIN, overrides);
  return call("/api/v1/auth/passkey", { body: { credential }, ip });
}

describe("the relying party", () => {
  it("is PUBLIC_URL's host or a parent domain; an IP address, a bare suffix or another domain is a configuration error", async () => {
    const parent = await call("/api/v1/auth/passkey/options", { body: {}, ip: freshIp(), env: { WEBAUTHN_RP_ID: "example.com" } });
    expect((await parent.json<{ rpId: string }>()).rpId).toBe("example.com");
    for (const rpId of ["127.0.0.1", "com", "other.example.org"]) {
      const logs = captureLogs();
      await problem(await call("/health", { env: { WEBAUTHN_RP_ID: rpId } }), 500, "internal_error");
      expect(logs.problems().map((l) => l.message)).toEqual([expect.stringContaining("WEBAUTHN_RP_ID must be a domain")]);
    }
  });
});

describe("adding a passkey", () => {
  it("verifies the registration, stores it, issues recovery codes with the first second factor, and mails a notice", async () => {
    const user = await register();
    const options = await (
      await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken })
    ).json<{
      rp: { id: string };
      user: { id: string; name: string };
      authenticatorSelection: Record<string, unknown>;
      attestation: string;
    }>();
    expect(options.rp.id).toBe("auth.example.com");
    expect(options.user.name).toBe(user.email);
    expect(options.user.id).not.toContain(user.userId);
    expect(options.authenticatorSelection).toMatchObject({ residentKey: "required", userVerification: "required" });
    expect(options.attestation).toBe("none");

    const authenticator = await SoftwareAuthenticator.create({ backupEligible: true, backedUp: true, counts: false });
    const creation = await (await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken })).json<never>();
    const registration = await authenticator.register(creation, ORIGIN);
    const res = await call("/api/v1/users/me/passkeys", { token: user.accessToken, body: { credential: registration, name: "Laptop" } });
    const body = await res.json<{ id: string; name: string; backed_up: boolean; recovery_codes?: string[] }>();
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ name: "Laptop", backed_up: true });
    expect(body.recovery_codes).toHaveLength(10);
    const list = await (await call("/api/v1/users/me/passkeys", { token: user.accessToken })).json<{ passkeys: unknown[] }>();
    expect(list.passkeys).toEqual([expect.objectContaining({ name: "Laptop", authenticator: null, backed_up: true })]);
    // A known provider is named from its AAGUID.
    const other = await register();
    const icloud = Uint8Array.from("fbfc3007154e4ecc8c0b6e020557d7bd".match(/../g)!.map((h) => parseInt(h, 16)));
    const named = await (await addPasskey(other, await SoftwareAuthenticator.create({ aaguid: icloud }))).json<{ authenticator: string }>();
    expect(named.authenticator).toBe("iCloud Keychain");
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "A passkey was added to your account")).toBe(true);
    expect(await auditRows("user_id = ? AND action = 'passkey.added'", user.userId)).toHaveLength(1);
    // Changing factors now needs a proof of one (fresh authentication with a second factor): a
    // passkey sign-in is one; the same authenticator again is already registered.
    const signedIn = await (await signIn(authenticator)).json<{ access_token: string }>();
    await problem(
      await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken }),
      403,
      "reauthentication_required",
    );
    const next = await (
      await call("/api/v1/users/me/passkeys/options", { method: "POST", token: signedIn.access_token })
    ).json<{
      excludeCredentials: { id: string }[];
    }>();
    expect(next.excludeCredentials.map((c) => c.id)).toEqual([authenticator.credentialId]);
    // The same registration again: its challenge is spent (and the credential id is taken).
    await problem(
      await call("/api/v1/users/me/passkeys", { token: signedIn.access_token, body: { credential: registration } }),
      422,
      "validation_failed",
    );
  });

  it("refuses each forged registration and a reused challenge", async () => {
    const user = await register();
    for (const overrides of [
      { origin: "https://evil.example.net" },
      { rpId: "evil.example.net" },
      { userVerified: false },
      { type: "webauthn.get" },
      { crossOrigin: true },
      { challenge: "AAAA" },
    ] as AuthenticatorOverrides[]) {
      await problem(await addPasskey(user, await SoftwareAuthenticator.create(), overrides), 422, "validation_failed");
    }
    // Another account's challenge does not register here.
    const other = await register();
    const foreign = await (await call("/api/v1/users/me/passkeys/options", { method: "POST", token: other.accessToken })).json<never>();
    const credential = await (await SoftwareAuthenticator.create()).register(foreign, ORIGIN);
    await problem(await call("/api/v1/users/me/passkeys", { token: user.accessToken, body: { credential } }), 422, "validation_failed");
    // One challenge, two registrations at once: one is added.
    const options = await (await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken })).json<never>();
    const [a, b] = [await SoftwareAuthenticator.create(), await SoftwareAuthenticator.create()];
    const answers = await Promise.all(
      [a, b].map(async (x) =>
        call("/api/v1/users/me/passkeys", { token: user.accessToken, body: { credential: await x.register(options, ORIGIN) } }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([201, 422]);
  });
});

describe("signing in with a passkey", () => {
  it("from a device the account does not know, tells the owner like any other sign-in", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    expect((await addPasskey(user, authenticator)).status).toBe(201);
    expect((await signIn(authenticator)).status).toBe(200);
    const notices = await outbox(user.email, "security_notice");
    expect(notices.some((m) => m.text.includes("/revert-sign-in") && !m.subject.includes("passkey was added"))).toBe(true);
    expect(await auditRows("user_id = ? AND action = 'login.new_device'", user.userId)).toHaveLength(1);
  });

  it("signs in alone with amr hwk + mfa (even with TOTP enabled), RS256 too", async () => {
    for (const algorithm of ["ES256", "RS256"] as const) {
      const user = await register();
      const authenticator = await SoftwareAuthenticator.create({ algorithm });
      expect((await addPasskey(user, authenticator)).status).toBe(201);
      // TOTP too (enabling it needs a proof of the passkey), so a password alone would need a second step.
      const withPasskey = await (await signIn(authenticator)).json<{ access_token: string }>();
      await enableTotp({ accessToken: withPasskey.access_token });
      const res = await signIn(authenticator);
      const body = await res.json<{ access_token: string; device_token: string; user: { id: string } }>();
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body.user.id).toBe(user.userId);
      expect(decodeJwt(body.access_token).amr).toEqual(["hwk", "mfa"]);
      const [row] = await auditRows("user_id = ? AND action = 'login.succeeded'", user.userId);
      expect(row!.metadata).toMatchObject({ factors: ["passkey"] });
    }
  });

  it("a synced passkey is swk", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create({ backupEligible: true, backedUp: true, counts: false });
    await addPasskey(user, authenticator);
    const body = await (await signIn(authenticator)).json<{ access_token: string }>();
    expect(decodeJwt(body.access_token).amr).toEqual(["swk", "mfa"]);
  });

  it("refuses every forged assertion with 401 invalid_credentials, and a replayed challenge", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    await addPasskey(user, authenticator);
    const forged: AuthenticatorOverrides[] = [
      { origin: "https://evil.example.net" },
      { rpId: "evil.example.net" },
      { userVerified: false },
      { userPresent: false },
      { type: "webauthn.create" },
      { crossOrigin: true },
      { challenge: "AAAA" },
      { badSignature: true },
    ];
    for (const overrides of forged) await problem(await signIn(authenticator, overrides), 401, "invalid_credentials");
    // One challenge, two parallel uses: one signs in.
    const ip = freshIp();
    const options = await (await call("/api/v1/auth/passkey/options", { body: {}, ip })).json<never>();
    const credential = await authenticator.assert(options, ORIGIN);
    const answers = await Promise.all([0, 1].map(() => call("/api/v1/auth/passkey", { body: { credential }, ip: freshIp() })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
    // A counter that did not increase: refused, and the owner is told.
    await problem(await signIn(authenticator, { counter: 1 }), 401, "invalid_credentials");
    expect((await outbox(user.email, "security_notice")).some((m) => m.subject === "A passkey may have been copied")).toBe(true);
    expect(await auditRows("user_id = ? AND action = 'login.failed'", user.userId)).not.toHaveLength(0);
  });

  it("20 strangers' bad assertions naming the owner's credential leave the owner's passkey working", async () => {
    const owner = await register();
    const authenticator = await SoftwareAuthenticator.create();
    await addPasskey(owner, authenticator);
    for (let i = 0; i < 20; i++) await problem(await signIn(authenticator, { badSignature: true }), 401, "invalid_credentials");
    expect((await signIn(authenticator)).status).toBe(200);
  });

  it("is limited per client IP (passkey_ip_minute)", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    await addPasskey(user, authenticator);
    const ip = freshIp();
    let last: Response | undefined;
    for (let i = 0; i < 11; i++) last = await signIn(authenticator, { badSignature: true }, ip);
    await problem(last!, 429, "rate_limited");
    // The options are not limited: autofill on a shared address never starves.
    expect((await call("/api/v1/auth/passkey/options", { body: {}, ip })).status).toBe(200);
  });
});

describe("a passkey as the second step", () => {
  it("after a password: mfa_required lists passkey; its assertion completes the sign-in", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    await addPasskey(user, authenticator);
    const first = await call("/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() });
    const { mfa_token, methods } = await first.json<{ mfa_token: string; methods: string[] }>();
    expect(first.status).toBe(403);
    expect(methods).toEqual(["passkey", "recovery_code"]);
    const options = await (
      await call("/api/v1/auth/mfa/passkey-options", { body: { mfa_token }, ip: freshIp() })
    ).json<{
      allowCredentials: { id: string }[];
    }>();
    expect(options.allowCredentials.map((c) => c.id)).toEqual([authenticator.credentialId]);
    const bad = await authenticator.assert(options as never, ORIGIN, { badSignature: true });
    await problem(
      await call("/api/v1/auth/mfa", { body: { mfa_token, method: "passkey", credential: bad }, ip: freshIp() }),
      401,
      "invalid_code",
    );
    const credential = await authenticator.assert(options as never, ORIGIN);
    const done = await call("/api/v1/auth/mfa", { body: { mfa_token, method: "passkey", credential }, ip: freshIp() });
    const body = await done.json<{ access_token: string }>();
    expect(done.status, JSON.stringify(body)).toBe(200);
    expect(decodeJwt(body.access_token).amr).toEqual(["pwd", "hwk", "mfa"]);
    // A sign-in challenge is not a second step's, and the other way round.
    const again = await call("/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() });
    const next = (await again.json<{ mfa_token: string }>()).mfa_token;
    const signInOptions = await (await call("/api/v1/auth/passkey/options", { body: {}, ip: freshIp() })).json<never>();
    const foreign = await authenticator.assert(signInOptions, ORIGIN);
    await problem(
      await call("/api/v1/auth/mfa", { body: { mfa_token: next, method: "passkey", credential: foreign }, ip: freshIp() }),
      401,
      "invalid_code",
    );
  });
});

describe("a step-up with a passkey", () => {
  it("makes a refreshed session fresh with a second factor (amr hwk, same sid)", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    await addPasskey(user, authenticator);
    const refreshed = await (
      await call("/api/v1/auth/refresh", { body: { refresh_token: user.refreshToken }, ip: freshIp() })
    ).json<{
      access_token: string;
    }>();
    await problem(
      await call("/api/v1/users/me/mfa/recovery-codes", { method: "POST", token: refreshed.access_token }),
      403,
      "reauthentication_required",
    );
    const options = await (
      await call("/api/v1/auth/step-up/passkey-options", { method: "POST", token: refreshed.access_token })
    ).json<never>();
    const credential = await authenticator.assert(options, ORIGIN);
    const res = await call("/api/v1/auth/step-up", { token: refreshed.access_token, body: { method: "passkey", credential } });
    const body = await res.json<{ access_token: string }>();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(decodeJwt(body.access_token)).toMatchObject({ amr: ["hwk"], fresh: true, sid: decodeJwt(refreshed.access_token).sid });
    expect((await call("/api/v1/users/me/mfa/recovery-codes", { method: "POST", token: body.access_token })).status).toBe(200);
    // The same assertion again: its challenge is spent.
    await problem(
      await call("/api/v1/auth/step-up", { token: body.access_token, body: { method: "passkey", credential } }),
      401,
      "invalid_code",
    );
  });
});

describe("managing passkeys", () => {
  it("renames, and removes with fresh authentication; the last way in stays (409)", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    const { id } = await (await addPasskey(user, authenticator)).json<{ id: string }>();
    const renamed = await call(`/api/v1/users/me/passkeys/${id}`, { method: "PATCH", token: user.accessToken, body: { name: "Phone" } });
    expect((await renamed.json<{ name: string }>()).name).toBe("Phone");
    const signedIn = await (await signIn(authenticator)).json<{ access_token: string }>();
    expect((await call(`/api/v1/users/me/passkeys/${id}`, { method: "DELETE", token: signedIn.access_token })).status).toBe(204);
    const row = await env.DB.prepare("SELECT second_factors FROM users WHERE id = ?").bind(user.userId).first<{ second_factors: string }>();
    expect(JSON.parse(row!.second_factors)).toEqual([]);
    await problem(await signIn(authenticator), 401, "invalid_credentials");
  });

  it("without a usable password, the last passkey stays (409 last_sign_in_method)", async () => {
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    const { id } = await (await addPasskey(user, authenticator)).json<{ id: string }>();
    await env.DB.prepare("UPDATE users SET password_hash = '!disabled' WHERE id = ?").bind(user.userId).run();
    const signedIn = await (await signIn(authenticator)).json<{ access_token: string }>();
    await problem(
      await call(`/api/v1/users/me/passkeys/${id}`, { method: "DELETE", token: signedIn.access_token }),
      409,
      "last_sign_in_method",
    );
  });

  it("the first proof of the address removes a squatter's passkey; deleting the account removes them", async () => {
    const squatter = await register();
    const authenticator = await SoftwareAuthenticator.create();
    await addPasskey(squatter, authenticator);
    await call("/api/v1/auth/forgot-password", { body: { email: squatter.email }, ip: freshIp() });
    const [reset] = await outbox(squatter.email, "password_reset");
    expect(
      (
        await call("/api/v1/auth/reset-password", {
          body: { token: reset!.token, new_password: "the owner's own passphrase 9" },
          ip: freshIp(),
        })
      ).status,
    ).toBe(200);
    await problem(await signIn(authenticator), 401, "invalid_credentials");

    const leaving = await register();
    const theirs = await SoftwareAuthenticator.create();
    await addPasskey(leaving, theirs);
    const proved = await (await signIn(theirs)).json<{ access_token: string }>();
    expect(
      (await call("/api/v1/users/me", { method: "DELETE", token: proved.access_token, body: { password: leaving.password } })).status,
    ).toBe(204);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM passkeys WHERE user_id = ?").bind(leaving.userId).first("n")).toBe(0);
  });
});
