import { describe, expect, it } from "vitest";
import { buildClient, bundleModule, committedBundle } from "../../scripts/build-client.mjs";
import { GATEHOUSE_CLIENT_JS } from "../../src/client/bundle";

/**
 * The worker serves src/client/bundle.ts, which `npm run build:client` generates from the client's
 * TypeScript: it must be what the source builds to now, and a module a browser can load on its own.
 */
describe("the served browser client", () => {
  it("is what src/client/gatehouse.ts builds to (run `npm run build:client` after editing the client)", () => {
    expect(GATEHOUSE_CLIENT_JS).toBe(buildClient());
    expect(committedBundle()).toBe(bundleModule());
  });

  it("is an ES module with no imports that exports createGatehouse and GatehouseError", async () => {
    expect(GATEHOUSE_CLIENT_JS).not.toMatch(/^\s*import[\s{*]/m);
    // A data: URL module can import nothing relative: loading it proves the text stands alone.
    const module = (await import(/* @vite-ignore */ `data:text/javascript,${encodeURIComponent(GATEHOUSE_CLIENT_JS)}`)) as Record<
      string,
      unknown
    >;
    expect(Object.keys(module).sort()).toEqual(["GatehouseError", "createGatehouse"]);
    expect(typeof module.createGatehouse).toBe("function");
  });
});
