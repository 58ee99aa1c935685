import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { currentStep } from "../scripts/totp.mjs";
import { auditRows, call, env, freshIp, outbox, problem, register, superuser, type Registered } from "./helpers";
import { enableTotp, totpCode } from "./totp";
import { SoftwareAuthenticator } from "./webauthn-authenticator";

/**
 * MFA policy (API.md v1.2 "TOTP, recovery codes and MFA policy"): `MFA_REQUIRED`, enrolment at
 * sign-in through the enrolment `mfa_token`, 409 `last_second_factor`, and the administrator's
 * reset whose next enrolment needs a mailed code.
 */

const ORIGIN = "https://auth.example.com"; // PUBLIC_URL in vitest.config.ts
const ALL = { MFA_REQUIRED: "all" } as const;
const SUPERUSERS = { MFA_REQUIRED: "superusers" } as const;

afterEach(() => {
  vi.useRealTimers();
});

type Policy = Record<string, string>;

/** A password sign-in under `policy`. */
function passwordSignIn(user: Pick<Registered, "email" | "password">, policy: Policy = ALL, ip = freshIp()) {
  return call("/api/v1/auth/login", { body: { email: user.email, password: user.password }, ip, env: policy });
}

/** A password sign-in that must answer `mfa_enrollment_required`: its token. */
async function enrolmentToken(user: Pick<Registered, "email" | "password">, policy: Policy = ALL): Promise<string> {
  const res = await passwordSignIn(user, policy);
  const body = await problem(res, 403, "mfa_enrollment_required");
  expect(body.methods).toEqual(["totp", "passkey"]);
  expect(body).not.toHaveProperty("access_token");
  expect(res.headers.get("set-cookie")).toBeNull();
  return body.mfa_token as string;
}

/** A call that presents an enrolment token. */
function withToken(path: string, token: string, body?: unknown, method = "POST") {
  return call(path, { method, body, headers: { Authorization: `MFA ${token}` } });
}

async function json<T>(res: Response, status: number): Promise<T> {
  const body = await res.json<T>();
  expect(res.status, JSON.stringify(body)).toBe(status);
  return body;
}

function mfa(mfaToken: string, body: Record<string, unknown>) {
  return call("/api/v1/auth/mfa", { body: { mfa_token: mfaToken, ...body }, ip: freshIp() });
}

/** Enrols an authenticator app with an enrolment token: the secret and the step its confirming code used. */
async function enrolTotp(token: string) {
  const { secret } = await json<{ secret: string }>(await withToken("/api/v1/users/me/mfa/totp", token), 200);
  const step = currentStep();
  const confirmed = await json<{ recovery_codes: string[] }>(
    await withToken("/api/v1/users/me/mfa/totp/confirm", token, { code: totpCode(secret, step) }),
    200,
  );
  return { secret, step, recoveryCodes: confirmed.recovery_codes };
}

describe("MFA_REQUIRED=all", () => {
  it("stops a password sign-in without a factor; the enrolment token enrols TOTP, then finishes with a code of a later step", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const token = await enrolmentToken(user);

    const { secret, step, recoveryCodes } = await enrolTotp(token);
    expect(recoveryCodes).toHaveLength(10);
    // Its enrolment done, the token enrols nothing more.
    await problem(await withToken("/api/v1/users/me/passkeys/options", token), 401, "invalid_token");
    // The confirming code, and a recovery code, cannot finish it: only a new proof of the new factor.
    await problem(await mfa(token, { method: "totp", code: totpCode(secret, step) }), 401, "invalid_code");
    await problem(await mfa(token, { method: "recovery_code", code: recoveryCodes[0] }), 401, "invalid_code");
    vi.setSystemTime(Date.now() + 30_000);
    const done = await json<{ access_token: string; refresh_token: string; device_token: string }>(
      await mfa(token, { method: "totp", code: totpCode(secret, step + 1) }),
      200,
    );
    expect(decodeJwt(done.access_token)).toMatchObject({ sub: user.userId, amr: ["pwd", "otp", "mfa"] });
    expect(done.device_token).toBeTruthy();
    // Used once.
    vi.setSystemTime(Date.now() + 30_000);
    await problem(await mfa(token, { method: "totp", code: totpCode(secret, step + 2) }), 401, "invalid_token");
    // From now on the account is an ordinary one with a second factor.
    await problem(await passwordSignIn(user), 403, "mfa_required");
    const status = await json<Record<string, unknown>>(await call("/api/v1/users/me/mfa", { token: done.access_token, env: ALL }), 200);
    expect(status).toMatchObject({ totp: { enabled: true }, required: true, email_code_required: false });
    expect(await auditRows("user_id = ? AND action = 'mfa.enabled'", user.userId)).toHaveLength(1);
  });

  it("enrols a passkey with the enrolment token, then finishes the sign-in with its assertion", async () => {
    const user = await register();
    const token = await enrolmentToken(user);
    const authenticator = await SoftwareAuthenticator.create();
    const creation = await json<never>(await withToken("/api/v1/users/me/passkeys/options", token), 200);
    const registration = await authenticator.register(creation, ORIGIN);
    const added = await json<{ recovery_codes?: string[] }>(
      await withToken("/api/v1/users/me/passkeys", token, { credential: registration, name: "Phone" }),
      201,
    );
    expect(added.recovery_codes).toHaveLength(10);

    const options = await json<{ allowCredentials: { id: string }[] }>(
      await call("/api/v1/auth/mfa/passkey-options", { body: { mfa_token: token }, ip: freshIp() }),
      200,
    );
    expect(options.allowCredentials.map((c) => c.id)).toEqual([authenticator.credentialId]);
    const credential = await authenticator.assert(options as never, ORIGIN);
    const done = await json<{ access_token: string }>(await mfa(token, { method: "passkey", credential }), 200);
    expect(decodeJwt(done.access_token).amr).toEqual(["pwd", "hwk", "mfa"]);
    // The passkey now signs in on its own, whatever the policy.
    const signInOptions = await json<never>(await call("/api/v1/auth/passkey/options", { body: {}, ip: freshIp() }), 200);
    const assertion = await authenticator.assert(signInOptions, ORIGIN);
    expect((await call("/api/v1/auth/passkey", { body: { credential: assertion }, ip: freshIp(), env: ALL })).status).toBe(200);
  });

  it("accepts the enrolment token nowhere else (401), never as a bearer, and not after 10 minutes", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const token = await enrolmentToken(user);
    const elsewhere: [string, string, unknown?][] = [
      ["GET", "/api/v1/users/me"],
      ["GET", "/api/v1/users/me/mfa"],
      ["DELETE", "/api/v1/users/me/mfa/totp"],
      ["POST", "/api/v1/users/me/mfa/recovery-codes"],
      ["GET", "/api/v1/users/me/passkeys"],
      ["GET", "/api/v1/users/me/sessions"],
      ["POST", "/api/v1/users/me/api-keys", { name: "k" }],
      ["PATCH", "/api/v1/users/me/password", { current_password: user.password, new_password: "another long passphrase 77" }],
      ["POST", "/api/v1/auth/step-up", { method: "password", password: user.password }],
      ["POST", "/api/v1/auth/logout", {}],
      ["GET", "/api/v1/admin/users"],
    ];
    for (const [method, path, body] of elsewhere) {
      const res = await withToken(path, token, body, method);
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    // As a bearer credential it is no access token.
    await problem(await call("/api/v1/users/me/mfa/totp", { method: "POST", token }), 401, "invalid_token");
    // A sign-in's mfa_token is not an enrolment token.
    const other = await register();
    await enableTotp(other);
    const signIn = await problem(await passwordSignIn(other), 403, "mfa_required");
    await problem(await withToken("/api/v1/users/me/mfa/totp", signIn.mfa_token as string), 401, "invalid_token");
    // Forged.
    await problem(await withToken("/api/v1/users/me/mfa/totp", `${token.slice(0, -4)}AAAA`), 401, "invalid_token");

    expect((await withToken("/api/v1/users/me/mfa/totp", token)).status).toBe(200);
    vi.setSystemTime(Date.now() + 10 * 60_000 + 1_000);
    await problem(await withToken("/api/v1/users/me/mfa/totp", token), 401, "invalid_token");
    // Nothing was enrolled: signing in again asks for enrolment again.
    await enrolmentToken(user);
  });

  it("registration yields no session: 202, and the first sign-in enrols", async () => {
    const email = `policy-${crypto.randomUUID()}@example.com`;
    const password = "correct horse battery staple 42";
    const res = await call("/api/v1/auth/register", { body: { email, password, full_name: "New" }, ip: freshIp(), env: ALL });
    const body = await json<{ message: string }>(res, 202);
    expect(Object.keys(body)).toEqual(["message"]);
    expect(body.message).toContain("two-step verification");
    expect(res.headers.get("set-cookie")).toBeNull();
    await enrolmentToken({ email, password });
  });

  it("a password change voids an outstanding enrolment token", async () => {
    const user = await register();
    const token = await enrolmentToken(user);
    const changed = await call("/api/v1/users/me/password", {
      method: "PATCH",
      token: user.accessToken,
      body: { current_password: user.password, new_password: "another long passphrase 77" },
    });
    expect(changed.status).toBe(204);
    await problem(await withToken("/api/v1/users/me/mfa/totp", token), 401, "invalid_token");
  });

  it("lets one token enrol one factor: parallel TOTP and passkey enrolments add one", async () => {
    const user = await register();
    const token = await enrolmentToken(user);
    const { secret } = await json<{ secret: string }>(await withToken("/api/v1/users/me/mfa/totp", token), 200);
    const authenticator = await SoftwareAuthenticator.create();
    const registration = await authenticator.register(
      await json<never>(await withToken("/api/v1/users/me/passkeys/options", token), 200),
      ORIGIN,
    );
    const [totp, passkey] = await Promise.all([
      withToken("/api/v1/users/me/mfa/totp/confirm", token, { code: totpCode(secret) }),
      withToken("/api/v1/users/me/passkeys", token, { credential: registration }),
    ]);
    expect([totp.status, passkey.status].filter((s) => s === 200 || s === 201)).toHaveLength(1);
    const row = await env.DB.prepare("SELECT second_factors FROM users WHERE id = ?").bind(user.userId).first<{ second_factors: string }>();
    expect(JSON.parse(row!.second_factors)).toHaveLength(1);
  });

  it("refuses to remove the last second factor (409 last_second_factor); one of two may go", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await register();
    const { secret, confirmedStep } = await enableTotp(user);
    vi.setSystemTime(Date.now() + 30_000);
    const stepped = await json<{ access_token: string }>(
      await call("/api/v1/auth/step-up", { token: user.accessToken, body: { method: "totp", code: totpCode(secret, confirmedStep + 1) } }),
      200,
    );
    await problem(
      await call("/api/v1/users/me/mfa/totp", { method: "DELETE", token: stepped.access_token, env: ALL }),
      409,
      "last_second_factor",
    );

    // With a passkey too, the app may go; then the passkey is the last one.
    const authenticator = await SoftwareAuthenticator.create();
    const creation = await json<never>(
      await call("/api/v1/users/me/passkeys/options", { method: "POST", token: stepped.access_token }),
      200,
    );
    const added = await json<{ id: string }>(
      await call("/api/v1/users/me/passkeys", {
        token: stepped.access_token,
        body: { credential: await authenticator.register(creation, ORIGIN) },
      }),
      201,
    );
    expect((await call("/api/v1/users/me/mfa/totp", { method: "DELETE", token: stepped.access_token, env: ALL })).status).toBe(204);
    await problem(
      await call(`/api/v1/users/me/passkeys/${added.id}`, { method: "DELETE", token: stepped.access_token, env: ALL }),
      409,
      "last_second_factor",
    );
    // Without the policy it may go.
    expect((await call(`/api/v1/users/me/passkeys/${added.id}`, { method: "DELETE", token: stepped.access_token })).status).toBe(204);
  });
});

describe("MFA_REQUIRED=superusers", () => {
  it("stops only superusers", async () => {
    const user = await register();
    expect((await passwordSignIn(user, SUPERUSERS)).status).toBe(200);
    const admin = await superuser();
    await enrolmentToken(admin, SUPERUSERS);
    // A superuser with a second factor gets the ordinary second step.
    const other = await superuser();
    await enableTotp(other);
    await problem(await passwordSignIn(other, SUPERUSERS), 403, "mfa_required");
    // The policy off: everyone signs in with the password alone.
    expect((await passwordSignIn(admin, { MFA_REQUIRED: "off" })).status).toBe(200);
  });
});

describe("an administrator's reset of the second factors", () => {
  it("removes every factor (204), audits the actor, tells the user, and the next enrolment needs a mailed code", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const admin = await superuser();
    const user = await register();
    await enableTotp(user);

    await problem(await call(`/api/v1/admin/users/${admin.userId}/mfa`, { method: "DELETE", token: user.accessToken }), 403, "forbidden");
    await problem(
      await call(`/api/v1/admin/users/${crypto.randomUUID()}/mfa`, { method: "DELETE", token: admin.accessToken }),
      404,
      "not_found",
    );
    expect((await call(`/api/v1/admin/users/${user.userId}/mfa`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);

    const [row] = await auditRows("user_id = ? AND action = 'admin.mfa_reset'", user.userId);
    expect(row).toMatchObject({ actor_user_id: admin.userId });
    const [notice] = (await outbox(user.email, "security_notice")).filter(
      (m) => m.subject === "An administrator reset your second factors",
    );
    expect(notice).toBeTruthy();
    const details = await json<{ user: { second_factors: string[] }; mfa: Record<string, unknown> }>(
      await call(`/api/v1/admin/users/${user.userId}`, { token: admin.accessToken }),
      200,
    );
    expect(details.user.second_factors).toEqual([]);
    expect(details.mfa).toMatchObject({ totp: { enabled: false }, passkeys: 0, recovery_codes_remaining: 0, email_code_required: true });
    // The password alone signs in again (no policy); the step-up needs no second factor now.
    const signedIn = await json<{ access_token: string }>(await passwordSignIn(user, {}), 200);

    // Enrolling needs the mailed code: asked for, mailed once a minute, wrong codes counted.
    await problem(await call("/api/v1/users/me/mfa/totp", { method: "POST", token: signedIn.access_token }), 403, "email_code_required");
    await problem(
      await call("/api/v1/users/me/passkeys/options", { method: "POST", token: signedIn.access_token }),
      403,
      "email_code_required",
    );
    const codes = await outbox(user.email, "sign_in_code");
    expect(codes).toHaveLength(1);
    const code = (codes[0] as { code?: string }).code!;
    expect(code).toMatch(/^\d{8}$/);
    expect(codes[0]).toMatchObject({ subtype: "mfa_enrolment" });
    expect(codes[0]!.text).toContain(code);
    const wrong = code === "00000000" ? "11111111" : "00000000";
    await problem(
      await call("/api/v1/users/me/mfa/totp", { token: signedIn.access_token, body: { email_code: wrong } }),
      401,
      "invalid_code",
    );
    await problem(
      await call("/api/v1/users/me/mfa/totp", { token: signedIn.access_token, body: { email_code: "12" } }),
      422,
      "validation_failed",
    );
    const started = await json<{ secret: string }>(
      await call("/api/v1/users/me/mfa/totp", { token: signedIn.access_token, body: { email_code: code } }),
      200,
    );
    // Used once.
    await problem(
      await call("/api/v1/users/me/passkeys/options", { token: signedIn.access_token, body: { email_code: code } }),
      403,
      "email_code_required",
    );
    // A step after the old app's last accepted code.
    vi.setSystemTime(Date.now() + 30_000);
    await json(
      await call("/api/v1/users/me/mfa/totp/confirm", { token: signedIn.access_token, body: { code: totpCode(started.secret) } }),
      200,
    );
    const after = await env.DB.prepare("SELECT mfa_reset_at FROM users WHERE id = ?")
      .bind(user.userId)
      .first<{ mfa_reset_at: number | null }>();
    expect(after!.mfa_reset_at).toBeNull();
  });

  it("a passkey enrolment after a reset needs the code at its options; a challenge issued without it registers nothing", async () => {
    const admin = await superuser();
    const user = await register();
    const authenticator = await SoftwareAuthenticator.create();
    // A challenge issued before the reset.
    const early = await json<never>(await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken }), 200);
    expect((await call(`/api/v1/admin/users/${user.userId}/mfa`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    await problem(
      await call("/api/v1/users/me/passkeys", {
        token: user.accessToken,
        body: { credential: await authenticator.register(early, ORIGIN) },
      }),
      422,
      "validation_failed",
    );
    await problem(await call("/api/v1/users/me/passkeys/options", { method: "POST", token: user.accessToken }), 403, "email_code_required");
    const [mail] = await outbox(user.email, "sign_in_code");
    const options = await json<never>(
      await call("/api/v1/users/me/passkeys/options", { token: user.accessToken, body: { email_code: (mail as { code?: string }).code } }),
      200,
    );
    const credential = await authenticator.register(options, ORIGIN);
    expect((await call("/api/v1/users/me/passkeys", { token: user.accessToken, body: { credential } })).status).toBe(201);
  });

  it("under MFA_REQUIRED=all the enrolment at sign-in needs the code too; five wrong codes kill it", async () => {
    const admin = await superuser();
    const user = await register();
    await enableTotp(user);
    expect((await call(`/api/v1/admin/users/${user.userId}/mfa`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    const token = await enrolmentToken(user);
    await problem(await withToken("/api/v1/users/me/mfa/totp", token, {}), 403, "email_code_required");
    const [mail] = await outbox(user.email, "sign_in_code");
    const code = (mail as { code?: string }).code!;
    const wrong = code === "00000000" ? "11111111" : "00000000";
    const guesses = await Promise.all(
      Array.from({ length: 8 }, () => withToken("/api/v1/users/me/mfa/totp", token, { email_code: wrong })),
    );
    // Five wrong answers are counted; then the code is dead, and within a minute of it no new one is mailed.
    expect(guesses.filter((r) => r.status === 401)).toHaveLength(5);
    expect(guesses.filter((r) => r.status === 403)).toHaveLength(3);
    await problem(await withToken("/api/v1/users/me/mfa/totp", token, { email_code: code }), 403, "email_code_required");
    expect(await outbox(user.email, "sign_in_code")).toHaveLength(1);
  });

  it("mails at most one code a minute, and no more than mfa_enrolment_code_user_day", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const admin = await superuser();
    const user = await register();
    expect((await call(`/api/v1/admin/users/${user.userId}/mfa`, { method: "DELETE", token: admin.accessToken })).status).toBe(204);
    const limits = { RATE_LIMITS: JSON.stringify({ mfa_enrolment_code_user_day: { limit: 2, window: 86_400 } }) };
    const ask = () => call("/api/v1/users/me/mfa/totp", { method: "POST", token: user.accessToken, env: limits });
    for (let minute = 0; minute < 4; minute++) {
      await problem(await ask(), 403, "email_code_required");
      await problem(await ask(), 403, "email_code_required");
      vi.setSystemTime(Date.now() + 61_000);
    }
    expect(await outbox(user.email, "sign_in_code")).toHaveLength(2);
  });

  it("filters the user list by enrolment", async () => {
    const admin = await superuser();
    const withFactor = await register();
    await enableTotp(withFactor);
    const without = await register();
    const list = async (mfa: string) =>
      (
        await json<{ users: { id: string }[] }>(await call(`/api/v1/admin/users?mfa=${mfa}&limit=100`, { token: admin.accessToken }), 200)
      ).users.map((u) => u.id);
    const enrolled = await list("enrolled");
    const none = await list("none");
    expect(enrolled).toContain(withFactor.userId);
    expect(enrolled).not.toContain(without.userId);
    expect(none).toContain(without.userId);
    expect(none).not.toContain(withFactor.userId);
    await problem(await call("/api/v1/admin/users?mfa=maybe", { token: admin.accessToken }), 422, "validation_failed");
  });
});
