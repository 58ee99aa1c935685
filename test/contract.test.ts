import { describe, expect, it } from "vitest";
import { ERROR_CATALOGUE } from "../src/errors";
import { app } from "../src/app";
import { pageRoutes } from "../src/pages/routes";
import { declaredRoutes } from "./contract";
import { call } from "./helpers";

/**
 * The OpenAPI document is the detailed contract: it must list exactly the routes the worker serves,
 * name only error codes the catalogue has, and describe what /docs and discovery publish.
 */

interface Document {
  openapi: string;
  servers: { url: string }[];
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }>; security?: unknown }>
  >;
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
}

async function document(): Promise<Document> {
  const res = await call("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  return res.json<Document>();
}

/** Every `code` enum value anywhere in the document. */
function codesIn(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => codesIn(v, found));
  else if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const maybeEnum = (child as { enum?: unknown }).enum;
      if (key === "code" && Array.isArray(maybeEnum)) maybeEnum.forEach((c) => found.add(String(c)));
      codesIn(child, found);
    }
  }
  return found;
}

describe("GET /openapi.json", () => {
  it("is OpenAPI 3.1 with the public URL as server and both security schemes", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "https://auth.example.com" }]);
    expect(doc.components.securitySchemes.accessToken).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    // Credential management takes access tokens only; the profile takes either.
    expect(doc.paths["/api/v1/users/me/password"]!.patch!.security).toEqual([{ accessToken: [] }]);
    expect(doc.paths["/api/v1/users/me"]!.get!.security).toEqual([{ accessToken: [] }, { apiKey: [] }]);
  });

  it("lists exactly the routes the worker serves", async () => {
    const doc = await document();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    // The hosted pages (HTML forms for browsers, src/pages/) are not part of the JSON API, so the
    // document leaves them out; every other served route must be in it, and no page in it, but the
    // external providers' browser flow under /api/v1/auth/oauth (API.md names it: documented, served by the pages).
    const browserFlow = (route: string) => route.includes(" /api/v1/auth/oauth/");
    const pages = new Set(pageRoutes.routes.map((r) => `${r.method} ${r.path}`).filter((route) => !browserFlow(route)));
    expect(pages.size).toBeGreaterThan(10);
    const served = [
      ...new Set(
        app.routes
          .filter((r) => r.method !== "ALL" && !pages.has(`${r.method} ${r.path}`))
          .map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, "{$1}")}`),
      ),
    ].sort();
    expect(documented).toEqual(served);
    for (const page of pages) expect(documented).not.toContain(page);
    expect(declaredRoutes.length).toBe(documented.length);
  });

  it("names only error codes from the catalogue, and every route can answer the dependency errors", async () => {
    const doc = await document();
    const codes = codesIn(doc.paths);
    expect(codes.size).toBeGreaterThan(10);
    for (const code of codes) expect(Object.keys(ERROR_CATALOGUE)).toContain(code);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(["500", "503"]));
        // The external providers' browser flow answers pages, its failures too.
        const media = path.startsWith("/api/v1/auth/oauth/") ? "text/html" : "application/problem+json";
        expect(op.responses["503"]!.content, `${method} ${path}`).toHaveProperty([media]);
      }
    }
  });

  it("gives each status only the codes the catalogue (or a documented override) answers with it", async () => {
    const doc = await document();
    const overrides = new Set(["400:invalid_token"]);
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          for (const code of codesIn(response)) {
            const expected = ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].status;
            if (String(expected) !== status) expect(overrides).toContain(`${status}:${code}`);
          }
        }
      }
    }
  });
});

describe("the response check that every test's call() runs", () => {
  it("refuses a status the route does not declare", async () => {
    const { assertMatchesContract } = await import("./contract");
    const request = new Request("https://auth.example.com/health");
    await expect(assertMatchesContract(request, Response.json({ status: "ok" }, { status: 418 }))).rejects.toThrow(/not declared/);
    await expect(assertMatchesContract(request, Response.json({ status: "fine" }))).rejects.toThrow(/does not match/);
    await expect(assertMatchesContract(request, Response.json({ status: "ok" }))).resolves.toBeUndefined();
  });

  it("refuses an error code the route does not list", async () => {
    const { assertMatchesContract } = await import("./contract");
    const problem = (code: string, status: number) =>
      new Response(JSON.stringify({ type: `urn:gatehouse:problem:${code}`, title: "t", status, detail: "d", code, request_id: "r" }), {
        status,
        headers: { "content-type": "application/problem+json" },
      });
    const request = new Request("https://auth.example.com/api/v1/auth/login", { method: "POST" });
    await expect(assertMatchesContract(request, problem("invalid_credentials", 401))).resolves.toBeUndefined();
    await expect(assertMatchesContract(request, problem("token_revoked", 401))).rejects.toThrow(/does not match/);
  });
});

describe("GET /docs", () => {
  it("renders every documented operation on one self-contained page", async () => {
    const doc = await document();
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; frame-ancestors 'none'/);
    const html = await res.text();
    expect(html).not.toMatch(/<script|https?:\/\/(?!auth\.example\.com)[a-z]/i);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) expect(html).toContain(`id="${method}-${path}"`);
    }
    // The style hash in the CSP is the hash of the page's one stylesheet.
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(style)));
    expect(csp).toContain(`'sha256-${btoa(String.fromCharCode(...digest))}'`);
  });
});

describe("GET /.well-known/openid-configuration", () => {
  it("publishes the issuer and the JWKS location, and the OpenID provider only while JWT_ISSUER is PUBLIC_URL", async () => {
    const res = await call("/.well-known/openid-configuration");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      issuer: "https://auth.example.com",
      jwks_uri: "https://auth.example.com/.well-known/jwks.json",
      ui_locales_supported: ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ja", "zh", "ko", "ar"],
      authorization_endpoint: "https://auth.example.com/oauth/authorize",
    });
    // Another issuer: the provider is off, and the document says only what is true.
    const off = await call("/.well-known/openid-configuration", { env: { JWT_ISSUER: "https://tokens.example.com" } });
    expect(await off.json()).toEqual({
      issuer: "https://tokens.example.com",
      jwks_uri: "https://auth.example.com/.well-known/jwks.json",
      ui_locales_supported: ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ja", "zh", "ko", "ar"],
    });
    const jwks = await call("/.well-known/jwks.json");
    expect((await jwks.json<{ keys: unknown[] }>()).keys.length).toBeGreaterThan(0);
  });
});
