import { expect } from "vitest";
import { currentStep, totpCode } from "../scripts/totp.mjs";
import { call, freshIp, login, type Registered } from "./helpers";

/** TOTP for tests: enabling it over HTTP and the two steps of a sign-in (the codes: scripts/totp.mjs). */
export { totpCode } from "../scripts/totp.mjs";

export interface WithTotp {
  secret: string;
  recoveryCodes: string[];
  /** The step the confirming code used: it never works again. */
  confirmedStep: number;
}

/** Enables TOTP on a freshly signed-in account (its token is fresh): the secret and the recovery codes. */
export async function enableTotp(user: Pick<Registered, "accessToken">): Promise<WithTotp> {
  const started = await call("/api/v1/users/me/mfa/totp", { method: "POST", token: user.accessToken });
  expect(started.status, await started.clone().text()).toBe(200);
  const { secret } = await started.json<{ secret: string }>();
  const confirmedStep = currentStep();
  const confirmed = await call("/api/v1/users/me/mfa/totp/confirm", {
    token: user.accessToken,
    body: { code: totpCode(secret, confirmedStep) },
  });
  expect(confirmed.status, await confirmed.clone().text()).toBe(200);
  const { recovery_codes } = await confirmed.json<{ recovery_codes: string[] }>();
  return { secret, recoveryCodes: recovery_codes, confirmedStep };
}

/** A first factor that answers `mfa_required`: its token and methods. */
export async function firstFactor(user: Pick<Registered, "email" | "password">, extra: Record<string, unknown> = {}) {
  const res = await login({ email: user.email, password: user.password, ...extra }, freshIp());
  const body = await res.json<{ code: string; mfa_token: string; methods: string[] }>();
  expect(res.status, JSON.stringify(body)).toBe(403);
  expect(body.code).toBe("mfa_required");
  return { token: body.mfa_token, methods: body.methods, response: res };
}

export function secondStep(mfaToken: string, method: string, code: string, ip = freshIp()): Promise<Response> {
  return call("/api/v1/auth/mfa", { body: { mfa_token: mfaToken, method, code }, ip });
}
