import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import { isDevHost } from "../src/web/middleware/dev-host";
import { buildRequest, env, problem } from "./helpers";

/**
 * Dev mode answers only this machine's names: a DNS-rebinding page, whose requests
 * carry its own host name, must not read the dev outbox. These requests go to `app.fetch` directly,
 * not through `call()`: the refusal exists only in dev mode and is no route's production contract.
 */

function fetchAt(url: string, bindings: Record<string, unknown> = {}): Promise<Response> {
  const request = buildRequest(url, { headers: { Host: new URL(url).host } });
  return Promise.resolve(app.fetch(request, { ...env, ...bindings }));
}

describe("the dev-mode host check", () => {
  it("refuses a foreign Host with 403 host_not_allowed, before anything else runs", async () => {
    for (const url of [
      "http://evil.example/api/v1/dev/outbox?to=a@example.com",
      "http://localhost.evil.example:8787/health",
      "http://10.0.0.5:8787/health",
    ]) {
      const res = await fetchAt(url);
      await problem(res, 403, "host_not_allowed");
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
    // A preflight too: CORS never answers for a rebinding page.
    const preflight = await app.fetch(
      new Request("http://evil.example/api/v1/auth/login", {
        method: "OPTIONS",
        headers: { Host: "evil.example", Origin: "https://app.example.com", "Access-Control-Request-Method": "POST" },
      }),
      env,
    );
    expect(preflight.status).toBe(403);
  });

  it("answers loopback names, *.localhost and PUBLIC_URL's host", async () => {
    for (const url of [
      "http://localhost:8787/health",
      "http://127.0.0.1:8787/health",
      "http://127.0.0.2/health",
      "http://[::1]:8787/health",
      // What `wrangler dev --ip 0.0.0.0` prints; a page elsewhere can no more read it than 127.0.0.1.
      "http://0.0.0.0:8787/health",
      "http://auth.example.localhost:8787/health",
      "http://LOCALHOST/health",
      "https://auth.example.com/health",
    ]) {
      const res = await fetchAt(url);
      expect(res.status, url).toBe(200);
    }
  });

  it("checks nothing outside dev mode", async () => {
    const res = await fetchAt("http://evil.example/health", { DEV_OUTBOX: "false" });
    expect(res.status).toBe(200);
  });

  it("matches names as the URL parser canonicalises them", () => {
    expect(isDevHost("localhost", "auth.example.com")).toBe(true);
    expect(isDevHost("a.b.localhost", "auth.example.com")).toBe(true);
    expect(isDevHost("[::1]", "auth.example.com")).toBe(true);
    expect(isDevHost("127.1.2.3", "auth.example.com")).toBe(true);
    expect(isDevHost("0.0.0.0", "auth.example.com")).toBe(true);
    expect(isDevHost("0.0.0.0.example.com", "auth.example.com")).toBe(false);
    expect(isDevHost("auth.example.com", "auth.example.com")).toBe(true);
    expect(isDevHost("localhost.example.com", "auth.example.com")).toBe(false);
    expect(isDevHost("notlocalhost", "auth.example.com")).toBe(false);
    expect(isDevHost("[::ffff:7f00:1]", "auth.example.com")).toBe(false);
    expect(isDevHost("", "auth.example.com")).toBe(false);
  });
});
