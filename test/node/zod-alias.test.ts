import { describe, expect, it } from "vitest";
import * as zod from "zod";
import * as alias from "../../src/build/zod-without-locales.js";

/**
 * wrangler.toml aliases "zod" to src/build/zod-without-locales.js for the bundle, which re-exports
 * zod's own modules by path. This holds it to zod's public API: the alias leaves out exactly what
 * it says it leaves out, so a zod upgrade that moves or adds an export fails here, not in production.
 */

/** Left out on purpose: the translations (size), the schema compiler (generated code, forbidden in workerd), JSON Schema input. */
const LEFT_OUT = ["ZodCompileAsyncError", "ZodCompileUnsupportedError", "compile", "fromJSONSchema", "locales", "withParser"];
const LEFT_OUT_OF_CORE = ["INVALID", "ZodCompileAsyncError", "ZodCompileUnsupportedError", "compile", "compileFn", "locales", "withParser"];

function difference(real: object, aliased: object) {
  const have = new Set(Object.keys(aliased));
  const want = new Set(Object.keys(real));
  return { missing: [...want].filter((k) => !have.has(k)).sort(), extra: [...have].filter((k) => !want.has(k)).sort() };
}

describe("the zod alias of the bundle", () => {
  it("exports what zod exports, but for the members it leaves out on purpose", () => {
    expect(difference(zod, alias)).toEqual({ missing: LEFT_OUT, extra: [] });
  });

  it("exports z.core as zod does, but for the same members", () => {
    expect(difference(zod.core, alias.core)).toEqual({ missing: LEFT_OUT_OF_CORE, extra: [] });
  });

  it("exports the very same values, not copies", () => {
    for (const key of Object.keys(alias) as (keyof typeof alias)[]) {
      if (key === "core" || key === "iso" || key === "coerce" || key === "util" || key === "regexes" || key === "z" || key === "default")
        continue;
      expect(alias[key], key).toBe(zod[key]);
    }
  });
});
