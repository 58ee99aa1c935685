import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { call, freshIp, login, problem, register } from "./helpers";

/**
 * Fresh authentication is proven by the access token a sign-in issued, never by one a refresh
 * issued: a refresh token stolen right after a sign-in must not mint a lasting credential.
 */

const KEYS = "/api/v1/users/me/api-keys";

describe("fresh authentication", () => {
  it("a sign-in's access token is fresh; the token a refresh issues is not, even a second later", async () => {
    const user = await register();
    const signedIn = await (
      await login({ email: user.email, password: user.password })
    ).json<{ access_token: string; refresh_token: string }>();
    expect(decodeJwt(signedIn.access_token).fresh).toBe(true);

    // The thief's refresh of the stolen refresh token.
    const refreshed = await call("/api/v1/auth/refresh", { body: { refresh_token: signedIn.refresh_token }, ip: freshIp() });
    expect(refreshed.status).toBe(200);
    const stolen = (await refreshed.json<{ access_token: string }>()).access_token;
    expect(decodeJwt(stolen).fresh).toBeUndefined();
    // auth_time is the sign-in's all the same: it says when, not how this token came to be.
    expect(decodeJwt(stolen).auth_time).toBe(decodeJwt(signedIn.access_token).auth_time);

    await problem(await call(KEYS, { token: stolen, body: { name: "lasting" } }), 403, "reauthentication_required");
    // A password in the body does not make it fresh (v1.2: "whatever the body carries")…
    await problem(
      await call(KEYS, { token: stolen, body: { name: "with password", current_password: user.password } }),
      403,
      "reauthentication_required",
    );
    // …a step-up does, and so does the sign-in's own token.
    const up = await call("/api/v1/auth/step-up", { token: stolen, body: { method: "password", password: user.password } });
    expect(up.status).toBe(200);
    const stepped = await up.json<{ access_token: string }>();
    expect(decodeJwt(stepped.access_token)).toMatchObject({ fresh: true, sid: decodeJwt(stolen).sid, amr: ["pwd"] });
    expect((await call(KEYS, { token: stepped.access_token, body: { name: "stepped up" } })).status).toBe(201);
    expect((await call(KEYS, { token: signedIn.access_token, body: { name: "fresh" } })).status).toBe(201);
  });
});
