import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildRequest, call, freshIp, problem, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";

/** The HTTP contract every route shares: problem+json, 404/405/400/413/415/422, headers, CORS. */

function expectSecurityHeaders(res: Response) {
  const h = res.headers;
  expect(h.get("x-content-type-options")).toBe("nosniff");
  expect(h.get("referrer-policy")).toBe("no-referrer");
  const csp = h.get("content-security-policy") ?? "";
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("default-src 'none'");
  expect(h.get("x-frame-options")).toBe("DENY");
  expect(h.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
  expect(h.get("x-request-id")).toMatch(/.+/);
  expect(h.get("x-powered-by")).toBeNull();
}

describe("problem+json errors", () => {
  it("unknown route: 404 not_found with every problem member", async () => {
    const res = await call("/api/v1/nothing-here");
    const body = await problem(res, 404, "not_found");
    expect(body).toMatchObject({
      type: "urn:gatehouse:problem:not_found",
      title: expect.any(String) as unknown,
      detail: expect.any(String) as unknown,
    });
    expect(body.request_id).toBe(res.headers.get("x-request-id"));
    expect(body).not.toHaveProperty("errors");
    expectSecurityHeaders(res);
  });

  it("known route, wrong method: 405 method_not_allowed with Allow", async () => {
    const res = await call("/api/v1/auth/login", { method: "GET" });
    await problem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toContain("POST");
    expectSecurityHeaders(res);
    const jwks = await call("/.well-known/jwks.json", { method: "DELETE" });
    await problem(jwks, 405, "method_not_allowed");
    expect(jwks.headers.get("allow")).toContain("GET");
  });

  it("malformed JSON: 400 malformed_body", async () => {
    for (const body of ["{", "{'email': 1}", "not json", '{"email":"a@b.c",}']) {
      const res = await call("/api/v1/auth/login", { body, ip: freshIp() });
      await problem(res, 400, "malformed_body");
      expectSecurityHeaders(res);
    }
  });

  it("body over 16 KiB: 413 payload_too_large, with or without Content-Length", async () => {
    const big = JSON.stringify({ email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "x".repeat(17 * 1024) });
    await problem(await call("/api/v1/auth/register", { body: big, ip: freshIp() }), 413, "payload_too_large");
    // A streamed body announces no length: the limit still holds.
    const streamed = buildRequest("/api/v1/auth/register", { body: new Blob([big]).stream() });
    expect(streamed.headers.get("content-length")).toBeNull();
    const res = await call("/api/v1/auth/register", { body: new Blob([big]).stream(), ip: freshIp() });
    await problem(res, 413, "payload_too_large");
  });

  it("schema violation: 422 validation_failed with errors[{field, message}]", async () => {
    const res = await call("/api/v1/auth/register", { body: { email: "nope", full_name: 7 }, ip: freshIp() });
    const body = await problem(res, 422, "validation_failed");
    const errors = body.errors as { field: string; message: string }[];
    expect(errors.map((e) => e.field).sort()).toEqual(["email", "full_name", "password"]);
    for (const e of errors) expect(typeof e.message).toBe("string");
    await problem(await call("/api/v1/auth/register", { body: "[]", ip: freshIp() }), 422, "validation_failed");
    await problem(await call("/api/v1/auth/register", { body: "null", ip: freshIp() }), 422, "validation_failed");
  });

  it("non-JSON content type: 415", async () => {
    const body = JSON.stringify({ email: uniqueEmail(), password: STRONG_PASSWORD });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      await problem(
        await call("/api/v1/auth/login", { body, headers: { "Content-Type": type }, ip: freshIp() }),
        415,
        "unsupported_media_type",
      );
    }
    expect(
      (await call("/api/v1/auth/login", { body, headers: { "Content-Type": "application/json; charset=utf-8" }, ip: freshIp() })).status,
    ).toBe(401);
  });
});

describe("headers on every response", () => {
  it("security headers on success and on errors; no-store on token and user responses", async () => {
    const health = await call("/health");
    expect(health.status).toBe(200);
    expectSecurityHeaders(health);

    const reg = await call("/api/v1/auth/register", {
      body: { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "H" },
      ip: freshIp(),
    });
    expect(reg.status).toBe(201);
    expectSecurityHeaders(reg);
    expect(reg.headers.get("cache-control")).toBe("no-store");
    expect(reg.headers.get("content-type")).toMatch(/^application\/json/);
    const { access_token } = await reg.json<{ access_token: string }>();

    const me = await call("/api/v1/users/me", { token: access_token });
    expect(me.status).toBe(200);
    expectSecurityHeaders(me);
    expect(me.headers.get("cache-control")).toBe("no-store");

    const unauthorized = await call("/api/v1/users/me");
    expectSecurityHeaders(unauthorized);
    expect(unauthorized.headers.get("cache-control")).toBe("no-store");
  });

  it("gives every response its own request id", async () => {
    const [a, b] = await Promise.all([call("/health"), call("/health")]);
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
  });
});

describe("CORS", () => {
  const ALLOWED = "https://app.example.com";

  it("echoes an allowed origin with credentials, never *", async () => {
    const res = await call("/health", { headers: { Origin: ALLOWED } });
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("vary")).toMatch(/origin/i);
    const error = await call("/api/v1/users/me", { headers: { Origin: ALLOWED } });
    expect(error.headers.get("access-control-allow-origin")).toBe(ALLOWED);
  });

  it("gives other origins no Access-Control-Allow-Origin", async () => {
    for (const origin of ["https://evil.example.com", "https://app.example.com.evil.io", "null", "http://app.example.com"]) {
      const res = await call("/health", { headers: { Origin: origin } });
      expect(res.headers.get("access-control-allow-origin"), origin).toBeNull();
    }
  });

  it("answers a preflight with 204 and the allowed methods and headers", async () => {
    const res = await call("/api/v1/auth/login", {
      method: "OPTIONS",
      headers: {
        Origin: ALLOWED,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expectSecurityHeaders(res);
    const denied = await call("/api/v1/auth/login", {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example.com", "Access-Control-Request-Method": "POST" },
    });
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("/users/me", () => {
  async function me(token: string) {
    const res = await call("/api/v1/users/me", { token });
    expect(res.status).toBe(200);
    return res.json<Record<string, unknown>>();
  }

  it("GET shows the UserResponse and never a hash", async () => {
    const user = await register({ username: `me_${Date.now()}` });
    const body = await me(user.accessToken);
    expect(Object.keys(body).sort()).toEqual(
      ["created_at", "email", "full_name", "id", "is_active", "is_verified", "last_login_at", "locale", "updated_at", "username"].sort(),
    );
    expect(JSON.stringify(body)).not.toMatch(/pbkdf2|hash|salt|superuser/i);
  });

  it("PUT changes full_name and username only; privileged fields in the body are ignored", async () => {
    const user = await register();
    const username = `Renamed_${Date.now()}`;
    const res = await call("/api/v1/users/me", {
      method: "PUT",
      token: user.accessToken,
      body: {
        full_name: "New Name",
        username,
        is_superuser: true,
        is_verified: true,
        email: "attacker@example.com",
        is_active: false,
        id: "x",
      },
    });
    expect(res.status).toBe(200);
    const body = await res.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      full_name: "New Name",
      username,
      email: user.email,
      is_verified: false,
      is_active: true,
      id: user.userId,
    });
    const row = await env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(user.userId).first<Record<string, unknown>>();
    expect(row).toMatchObject({ email: user.email, is_superuser: 0, email_verified: 0, is_active: 1, full_name: "New Name", username });
  });

  it("PUT refuses a taken username (409) and invalid values (422) without changing anything", async () => {
    const taken = `Taken_${Date.now()}`;
    await register({ username: taken });
    const user = await register({ full_name: "Original Name" });
    const before = await me(user.accessToken);
    await problem(
      await call("/api/v1/users/me", { method: "PUT", token: user.accessToken, body: { username: taken.toUpperCase() } }),
      409,
      "username_taken",
    );
    for (const body of [
      { full_name: "<b>bold</b>" },
      { full_name: "" },
      { username: "admin" },
      { username: "no spaces allowed" },
      { full_name: "Fine Name", username: "x" },
    ]) {
      await problem(await call("/api/v1/users/me", { method: "PUT", token: user.accessToken, body }), 422, "validation_failed");
    }
    expect(await me(user.accessToken)).toEqual(before);
  });

  it("PUT lets a user change the casing of their own username", async () => {
    const username = `casey_${Date.now()}`;
    const user = await register({ username });
    const res = await call("/api/v1/users/me", { method: "PUT", token: user.accessToken, body: { username: username.toUpperCase() } });
    expect(res.status).toBe(200);
    expect((await res.json<{ username: string }>()).username).toBe(username.toUpperCase());
  });

  it("PUT needs a token", async () => {
    const res = await call("/api/v1/users/me", { method: "PUT", body: { full_name: "x" } });
    await problem(res, 401, "authentication_required");
    // RFC 6750 §3.1: no credential at all gets the bare challenge.
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
  });
});
