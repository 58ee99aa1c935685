// The bundle's "@asteasolutions/zod-to-openapi" (wrangler.toml [alias]; the tests and the type checks
// keep the real module). @hono/zod-openapi imports it for two things: the `.openapi()` schema method
// and a registry that turns route declarations into an OpenAPI document. The worker serves a document
// generated ahead of time (assets/openapi.json, test/openapi-document.test.ts), so in the bundle the
// method only has to exist and the registry only has to accept what it is given: about 30 KB of
// document generator stay out of the script. Validation never read either: @hono/zod-openapi validates
// with the route's zod schemas themselves (test/node/zod-openapi-stub.test.ts compares the two).

/** The route declarations the worker registers: kept by the build, never by the worker. */
export class OpenAPIRegistry {
  get definitions(): never[] {
    return [];
  }
  register<T>(_refId: string, schema: T): T {
    return schema;
  }
  registerParameter<T>(_refId: string, schema: T): T {
    return schema;
  }
  registerPath(): void {}
  registerWebhook(): void {}
  registerComponent(type: string, name: string): { name: string; ref: { $ref: string } } {
    return { name, ref: { $ref: `#/components/${type}/${name}` } };
  }
}

function builtAheadOfTime(): never {
  throw new Error("the OpenAPI document is generated at build time (npm run build:openapi), not by the worker");
}

class GeneratorBuiltAheadOfTime {
  generateDocument(): never {
    return builtAheadOfTime();
  }
}

export const OpenApiGeneratorV3 = GeneratorBuiltAheadOfTime;
export const OpenApiGeneratorV31 = GeneratorBuiltAheadOfTime;

/**
 * `.openapi(…)` on every schema. The real one returns a copy carrying documentation metadata (the
 * same definition, so it validates the same); only the document generator reads that metadata.
 */
export function extendZodWithOpenApi(zod: { ZodType: { prototype: object } }): void {
  const prototype = zod.ZodType.prototype as { openapi?: unknown };
  if (prototype.openapi !== undefined) return;
  prototype.openapi = function (this: unknown) {
    return this;
  };
}

export function getOpenApiMetadata(): Record<string, never> {
  return {};
}
