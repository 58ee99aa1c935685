// zod's public API exactly as `zod` exports it (node_modules/zod/v4/classic/external.js), minus
// `locales`: every translation of zod's error messages, about 300 KB of source the worker never
// uses (its messages are English, and most fields carry their own); minus the schema compiler
// (`compile`, `withParser` and their errors: generated code, which workerd forbids) and
// `fromJSONSchema` (the worker never reads JSON Schema). test/node/zod-alias.test.ts fails on any
// other difference, so a zod upgrade that adds an export cannot slip past it. wrangler.toml aliases "zod" to
// this file for the bundle only, so the API, the types and the tests are zod's own.
// @hono/zod-openapi passes the whole `z` namespace around as a value, which defeats tree-shaking:
// leaving a member out here is the only way to keep it out of the bundle.
import * as z from "./zod-without-locales.js";

export * as core from "./zod-core-without-locales.js";
export * from "../../node_modules/zod/v4/classic/schemas.js";
export * from "../../node_modules/zod/v4/classic/checks.js";
export * from "../../node_modules/zod/v4/classic/errors.js";
export * from "../../node_modules/zod/v4/classic/parse.js";
export * from "../../node_modules/zod/v4/classic/compat.js";
export {
  globalRegistry,
  registry,
  config,
  memoizer,
  $output,
  $input,
  $brand,
  clone,
  regexes,
  treeifyError,
  prettifyError,
  formatError,
  flattenError,
  TimePrecision,
  util,
  NEVER,
  INVALID,
  toZod,
  getDiscriminatedOption,
} from "../../node_modules/zod/v4/core/index.js";
export { toJSONSchema } from "../../node_modules/zod/v4/core/json-schema-processors.js";
export { deepPartial } from "../../node_modules/zod/v4/classic/deep-partial.js";
export { input, output } from "../../node_modules/zod/v4/classic/in-out.js";
export { ZodISODateTime, ZodISODate, ZodISOTime, ZodISODuration } from "../../node_modules/zod/v4/classic/iso.js";
export * as iso from "../../node_modules/zod/v4/classic/iso.js";
export * as coerce from "../../node_modules/zod/v4/classic/coerce.js";
export { z, z as default };
