import { describe, expect, it } from "vitest";
import { buildClient, committedClient } from "../../scripts/build-client.mjs";

/**
 * The worker serves assets/client/v1/gatehouse.js, which `npm run build:client` generates from the
 * client's TypeScript: it must be what the source builds to now, and a module a browser can load on its own.
 */
describe("the served browser client", () => {
  it("is what src/client/gatehouse.ts builds to (run `npm run build:client` after editing the client)", () => {
    expect(committedClient()).toBe(buildClient());
  });

  it("is an ES module with no imports that exports createGatehouse and GatehouseError", async () => {
    const js = committedClient();
    expect(js).not.toMatch(/^\s*import[\s{*]/m);
    // A data: URL module can import nothing relative: loading it proves the text stands alone.
    const module = (await import(/* @vite-ignore */ `data:text/javascript,${encodeURIComponent(js)}`)) as Record<string, unknown>;
    expect(Object.keys(module).sort()).toEqual(["GatehouseError", "createGatehouse"]);
    expect(typeof module.createGatehouse).toBe("function");
  });
});
