import { build } from "esbuild";
import { describe, expect, it } from "vitest";

/**
 * wrangler.toml aliases "@asteasolutions/zod-to-openapi" to src/build/zod-to-openapi-stub.ts for the
 * bundle (the document is generated ahead of time). @hono/zod-openapi must validate exactly as with
 * the real module: the same routes, bundled both ways as wrangler bundles (esbuild, the same alias),
 * answer the same requests the same way.
 */

type App = { request(path: string, init?: RequestInit): Promise<Response> | Response };

async function bundled(alias: Record<string, string>): Promise<{ app: App; code: string }> {
  const result = await build({
    entryPoints: ["test/node/zod-openapi-stub.fixture.ts"],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
    alias,
  });
  const code = result.outputFiles[0]!.text;
  const app = ((await import(/* @vite-ignore */ `data:text/javascript,${encodeURIComponent(code)}`)) as { default: App }).default;
  return { app, code };
}

const json = (body: unknown, type = "application/json"): RequestInit => ({
  method: "POST",
  headers: { "content-type": type },
  body: JSON.stringify(body),
});
const ID = "6f1c1c4e-5a43-4b0e-9a43-3f1f0d2b8c11";

const REQUESTS: [string, RequestInit?][] = [
  ["/required", json({ email: "ada@example.com", password: "correct horse" })],
  ["/required", json({ email: "ada@example.com", password: "correct horse", full_name: "  Ada  " })],
  ["/required", json({ email: "not an address", password: "short" })],
  ["/required", json({ email: "ada@example.com", password: "correct horse", extra: 1 })],
  ["/required", json({ email: "ada@example.com", password: "correct horse" }, "text/plain")],
  ["/required", { method: "POST", body: "{}" }],
  ["/required", { method: "POST" }],
  ["/optional", { method: "POST" }],
  ["/optional", json({ note: "hi" })],
  ["/optional", json({ note: "too long" })],
  [`/items/${ID}`],
  [`/items/${ID}?limit=5&state=b`, { headers: { "x-trace": "abc" } }],
  [`/items/${ID}?limit=0&state=c`, { headers: { "x-trace": "a b" } }],
  ["/items/not-a-uuid"],
];

async function answers(app: App) {
  const out = [];
  for (const [path, init] of REQUESTS) {
    const res = await app.request(path, init);
    out.push({ path, status: res.status, body: await res.text() });
  }
  return out;
}

describe("the bundle's zod-to-openapi stub", () => {
  it("validates requests exactly as the real module does", async () => {
    const real = await bundled({});
    const stub = await bundled({ "@asteasolutions/zod-to-openapi": "./src/build/zod-to-openapi-stub.ts" });
    // esbuild names each input in a comment: the stub bundle has no generator in it.
    expect(real.code).toContain("node_modules/@asteasolutions/zod-to-openapi/");
    expect(stub.code).not.toContain("node_modules/@asteasolutions/zod-to-openapi/");
    const expected = await answers(real.app);
    expect(await answers(stub.app)).toEqual(expected);
    // The requests cover acceptance and each kind of refusal.
    expect(new Set(expected.map((r) => r.status))).toEqual(new Set([200, 415, 422]));
    // Two esbuild runs: seconds on a busy two-core machine.
  }, 30_000);
});
