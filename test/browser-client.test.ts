import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "./helpers";

/** The worker serves the browser client (its types follow the API's schemas: client-types.test-d.ts). */

const PATH = "/client/v1/gatehouse.js";
const APP = "https://app.example.com"; // in CORS_ORIGINS (vitest.config.ts)

describe("GET /client/v1/gatehouse.js", () => {
  it("serves the built client as a cacheable JavaScript module that other sites may load", async () => {
    const res = await call(PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    // The app-wide default is same-origin, which would block the sites the client is for.
    expect(res.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const text = await res.text();
    // The static asset `npm run build:client` writes (test/node/client-bundle.test.ts keeps it current).
    expect(text).toBe(await (await env.ASSETS.fetch("https://assets.example/client/v1/gatehouse.js")).text());
    expect(text).toContain("export function createGatehouse(");
  });

  it("answers CORS (which module scripts need) to listed origins only", async () => {
    const listed = await call(PATH, { headers: { Origin: APP } });
    expect(listed.headers.get("access-control-allow-origin")).toBe(APP);
    expect(listed.headers.get("vary")).toContain("Origin");
    const other = await call(PATH, { headers: { Origin: "https://evil.example.net" } });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
