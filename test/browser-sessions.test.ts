import { describe, expect, it } from "vitest";
import { call, captureLogs, env, freshIp, problem, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";

/**
 * Cookie mode, its CSRF guard and CORS, as the HTTP contract pins them: the routes' declared answers
 * (the OpenAPI document) and docs/browser-sites.md#how-cookie-mode-works.
 */

const OWN = "https://auth.example.com";
const APP = "https://app.example.com";
const EVIL = "https://evil.example.net";
const COOKIE = { "Gatehouse-Token-Delivery": "cookie" };

interface Jar {
  rt?: string;
  dev?: string;
  at?: string;
}

/** The Set-Cookie lines of a response, by cookie name. */
function setCookies(res: Response): Map<string, string> {
  return new Map(res.headers.getSetCookie().map((line) => [line.split("=")[0]!, line]));
}

function valueOf(line: string | undefined): string | undefined {
  return line?.split(";")[0]!.split("=").slice(1).join("=");
}

function cookieHeader(jar: Jar): string {
  return [jar.rt && `__Host-gh_rt=${jar.rt}`, jar.dev && `__Host-gh_dev=${jar.dev}`].filter(Boolean).join("; ");
}

function browser(
  path: string,
  jar: Jar,
  options: {
    body?: unknown;
    token?: string;
    origin?: string;
    site?: string;
    headers?: Record<string, string>;
    env?: Record<string, string>;
  } = {},
) {
  return call(path, {
    method: "POST",
    body: options.body ?? {},
    token: options.token,
    ip: freshIp(),
    env: options.env,
    headers: {
      ...COOKIE,
      Origin: options.origin ?? APP,
      "Sec-Fetch-Site": options.site ?? "same-site",
      ...(cookieHeader(jar) ? { Cookie: cookieHeader(jar) } : {}),
      ...options.headers,
    },
  });
}

async function signUp(env?: Record<string, string>): Promise<{ jar: Jar; access: string; res: Response }> {
  const res = await browser(
    "/api/v1/auth/register",
    {},
    { body: { email: uniqueEmail("browser"), password: STRONG_PASSWORD, full_name: "Browser" }, env },
  );
  expect(res.status).toBe(201);
  const cookies = setCookies(res.clone());
  const body = await res.clone().json<{ access_token: string }>();
  return { jar: { rt: valueOf(cookies.get("__Host-gh_rt")), dev: valueOf(cookies.get("__Host-gh_dev")) }, access: body.access_token, res };
}

describe("cookie mode", () => {
  it("puts the refresh and device tokens in __Host- cookies and out of the body", async () => {
    const { res, jar } = await signUp();
    const body = await res.json<Record<string, unknown>>();
    expect(body).not.toHaveProperty("refresh_token");
    expect(body).not.toHaveProperty("device_token");
    expect(body.access_token).toEqual(expect.any(String));
    const cookies = setCookies(res);
    expect(cookies.get("__Host-gh_rt")).toMatch(/^__Host-gh_rt=[\w.-]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(cookies.get("__Host-gh_dev")).toMatch(/; Max-Age=7776000; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(cookies.has("__Secure-gh_at")).toBe(false);
    expect(jar.rt).toBeTruthy();
  });

  it("bearer clients keep the tokens in the body and get no cookie", async () => {
    const res = await call("/api/v1/auth/register", {
      body: { email: uniqueEmail(), password: STRONG_PASSWORD, full_name: "Bearer" },
      ip: freshIp(),
    });
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await res.json()).toHaveProperty("refresh_token");
  });

  it("refreshes and logs out by cookie; logout clears the cookies and the session is gone", async () => {
    const { jar, access } = await signUp();
    const refreshed = await browser("/api/v1/auth/refresh", jar);
    expect(refreshed.status).toBe(200);
    const rotated = valueOf(setCookies(refreshed.clone()).get("__Host-gh_rt"));
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(jar.rt);
    expect(await refreshed.json()).not.toHaveProperty("refresh_token");

    const out = await browser("/api/v1/auth/logout", { ...jar, rt: rotated }, { token: access });
    expect(out.status).toBe(204);
    expect(setCookies(out).get("__Host-gh_rt")).toMatch(/^__Host-gh_rt=; Max-Age=0; Path=\/; HttpOnly; Secure; SameSite=Lax/);
    await problem(await browser("/api/v1/auth/refresh", { rt: rotated }), 401, "invalid_token");
  });

  it("reuse detection clears the cookie", async () => {
    const { jar } = await signUp();
    expect((await browser("/api/v1/auth/refresh", jar)).status).toBe(200);
    // The old token again, after the grace window: theft.
    const reused = await browser("/api/v1/auth/refresh", jar, { env: { REFRESH_REUSE_GRACE_SECONDS: "0" } });
    await problem(reused.clone(), 401, "refresh_token_reused");
    expect(setCookies(reused).get("__Host-gh_rt")).toContain("Max-Age=0");
  });

  it("logs in with the device cookie as a known device", async () => {
    const email = uniqueEmail("device");
    const first = await browser("/api/v1/auth/register", {}, { body: { email, password: STRONG_PASSWORD, full_name: "Dev" } });
    const dev = valueOf(setCookies(first).get("__Host-gh_dev"));
    for (let i = 0; i < 5; i++) await call("/api/v1/auth/login", { body: { email, password: "wrong wrong wrong 1" }, ip: freshIp() });
    await problem(await call("/api/v1/auth/login", { body: { email, password: STRONG_PASSWORD }, ip: freshIp() }), 423, "account_locked");
    const known = await browser("/api/v1/auth/login", { dev }, { body: { email, password: STRONG_PASSWORD } });
    expect(known.status).toBe(200);
  });

  it("with COOKIE_DOMAIN also sets __Secure-gh_at for the site's server; a foreign domain is a configuration error", async () => {
    const { res } = await signUp({ COOKIE_DOMAIN: "example.com" });
    expect(setCookies(res).get("__Secure-gh_at")).toMatch(
      /^__Secure-gh_at=eyJ[^;]+; Max-Age=900; Domain=example\.com; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    const logs = captureLogs();
    const broken = await call("/health", { env: { COOKIE_DOMAIN: "other.org" } });
    await problem(broken, 500, "internal_error");
    expect(logs.problems().map((l) => [l.event, l.message])).toEqual([
      ["request.failed", "invalid configuration: COOKIE_DOMAIN must be PUBLIC_URL's host or a parent domain of it"],
    ]);
  });
});

describe("CSRF guard for cookie sessions", () => {
  it("accepts the worker's own origin and listed origins, same-origin or same-site", async () => {
    const { jar } = await signUp();
    const own = await browser("/api/v1/auth/refresh", jar, { origin: OWN, site: "same-origin" });
    expect(own.status).toBe(200);
  });

  it("refuses a foreign Origin, a missing Origin, cross-site fetches and a missing delivery header", async () => {
    const { jar } = await signUp();
    await problem(await browser("/api/v1/auth/refresh", jar, { origin: EVIL }), 403, "csrf_rejected");
    await problem(await browser("/api/v1/auth/refresh", jar, { site: "cross-site" }), 403, "csrf_rejected");
    const noOrigin = await call("/api/v1/auth/refresh", { body: {}, ip: freshIp(), headers: { ...COOKIE, Cookie: cookieHeader(jar) } });
    await problem(noOrigin, 403, "csrf_rejected");
    const noHeader = await call("/api/v1/auth/refresh", { body: {}, ip: freshIp(), headers: { Origin: APP, Cookie: cookieHeader(jar) } });
    await problem(noHeader, 403, "csrf_rejected");
    // None of it used the session up.
    expect((await browser("/api/v1/auth/refresh", jar)).status).toBe(200);
  });

  it("refuses a cross-site form post whatever its content type", async () => {
    const { jar } = await signUp();
    for (const type of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]) {
      const res = await call("/api/v1/auth/refresh", {
        method: "POST",
        body: "refresh_token=x",
        ip: freshIp(),
        headers: { "Content-Type": type, Origin: EVIL, "Sec-Fetch-Site": "cross-site", Cookie: cookieHeader(jar) },
      });
      await problem(res, 403, "csrf_rejected");
    }
  });

  it("guards a cookie-mode login too (login CSRF), but leaves bearer clients alone", async () => {
    await problem(
      await browser("/api/v1/auth/login", {}, { origin: EVIL, body: { email: uniqueEmail(), password: "x" } }),
      403,
      "csrf_rejected",
    );
    const bearer = await call("/api/v1/auth/login", {
      body: { email: uniqueEmail(), password: "whatever it is 1" },
      ip: freshIp(),
      headers: { Origin: EVIL },
    });
    await problem(bearer, 401, "invalid_credentials");
  });
});

describe("CORS", () => {
  it("gives unlisted origins no Access-Control-* header at all, preflight included", async () => {
    for (const origin of [EVIL, "null", "https://app.example.com.evil.io"]) {
      const preflight = await call("/api/v1/auth/refresh", {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "gatehouse-token-delivery" },
      });
      expect(preflight.status).toBe(204);
      expect([...preflight.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
      const simple = await call("/health", { headers: { Origin: origin } });
      expect([...simple.headers.keys()].filter((k) => k.startsWith("access-control-"))).toEqual([]);
    }
  });

  it("lets listed origins send the delivery header with credentials, and varies on Origin", async () => {
    const preflight = await call("/api/v1/auth/refresh", {
      method: "OPTIONS",
      headers: {
        Origin: APP,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "gatehouse-token-delivery, content-type",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBe(APP);
    expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("Gatehouse-Token-Delivery");
    expect(preflight.headers.get("vary")).toBe("Origin");
    const res = await call("/health", { headers: { Origin: APP } });
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("answers no CORS on the hosted pages, even to a listed origin: only the API, the client, discovery and the document", async () => {
    const corsHeaders = (res: Response) => [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
    for (const path of ["/login", "/register", "/account", "/admin", "/forgot-password", "/docs", "/"]) {
      const preflight = await call(path, {
        method: "OPTIONS",
        headers: { Origin: APP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
      });
      expect(corsHeaders(preflight), `OPTIONS ${path}`).toEqual([]);
      const page = await call(path, { headers: { Origin: APP } });
      expect(corsHeaders(page), `GET ${path}`).toEqual([]);
    }
    for (const path of ["/api/v1/users/me", "/client/v1/gatehouse.js", "/openapi.json"]) {
      const res = await call(path, { headers: { Origin: APP } });
      expect(res.headers.get("access-control-allow-origin"), path).toBe(APP);
      expect(res.headers.get("access-control-allow-credentials"), path).toBe("true");
    }
    // The OpenID provider's public endpoints (API.md v1.2): any origin, never with credentials.
    const jwks = await call("/.well-known/jwks.json", { headers: { Origin: APP } });
    expect(jwks.headers.get("access-control-allow-origin")).toBe("*");
    expect(jwks.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("sends nothing CORS-related when no origin is configured", async () => {
    const res = await call("/health", { headers: { Origin: APP }, env: { CORS_ORIGINS: "" } });
    expect([...res.headers.keys()].filter((k) => k.startsWith("access-control-") || k === "vary")).toEqual([]);
  });
});

describe("cookie doctor", () => {
  it("explains which cookies a request carries and why a cross-site page cannot use them", async () => {
    const { jar } = await signUp();
    const ok = await call("/api/v1/dev/cookie-doctor", {
      headers: { ...COOKIE, Origin: APP, "Sec-Fetch-Site": "same-site", Cookie: cookieHeader(jar) },
    });
    expect(ok.status).toBe(200);
    const good = await ok.json<{ cookies_received: string[]; csrf: { cookie_requests_pass: boolean }; cors: { origin_listed: boolean } }>();
    expect(good.cookies_received.sort()).toEqual(["__Host-gh_dev", "__Host-gh_rt"]);
    expect(good.csrf.cookie_requests_pass).toBe(true);
    expect(good.cors.origin_listed).toBe(true);
    expect(JSON.stringify(good)).not.toContain(jar.rt!);

    const bad = await (
      await call("/api/v1/dev/cookie-doctor", { headers: { Origin: EVIL, "Sec-Fetch-Site": "cross-site" } })
    ).json<{ csrf: { cookie_requests_pass: boolean; why: string[] }; advice: string[]; cookies: { why: string[] }[] }>();
    expect(bad.csrf.cookie_requests_pass).toBe(false);
    expect(bad.csrf.why.join(" ")).toMatch(/Gatehouse-Token-Delivery.*not this worker's.*cross-site/s);
    expect(bad.cookies[0]!.why.join(" ")).toContain("SameSite=Lax");
    expect(bad.advice.join(" ")).toContain(`Add ${EVIL} to CORS_ORIGINS`);
  });

  it("does not exist in a deploy, except for superusers", async () => {
    await problem(await call("/api/v1/dev/cookie-doctor", { env: { DEV_OUTBOX: "false" } }), 404, "not_found");
    const admin = await register();
    await problem(await call("/api/v1/dev/cookie-doctor", { token: admin.accessToken, env: { DEV_OUTBOX: "false" } }), 404, "not_found");
    await env.DB.prepare("UPDATE users SET is_superuser = 1 WHERE id = ?").bind(admin.userId).run();
    expect((await call("/api/v1/dev/cookie-doctor", { token: admin.accessToken, env: { DEV_OUTBOX: "false" } })).status).toBe(200);
    await problem(await call("/api/v1/dev/outbox?to=a@b.c", { token: admin.accessToken, env: { DEV_OUTBOX: "false" } }), 404, "not_found");
  });
});
