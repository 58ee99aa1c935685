import { zValidator } from "@hono/zod-validator";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { ZodType } from "zod";
import type { AppEnv } from "../context";
import { AppError, type FieldError } from "../../errors";

/** JSON bodies larger than this are refused with 413 before they are parsed. */
export const JSON_BODY_LIMIT = 16 * 1024;

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Guards every request that carries a body: size limit (413), JSON media type (415) and
 * well-formed JSON (400 `malformed_body`). The parsed body is cached by Hono, so the zod
 * validator below reads it without parsing again.
 */
export function createJsonBodyGuard() {
  const limit = bodyLimit({
    maxSize: JSON_BODY_LIMIT,
    onError: () => {
      throw new AppError("payload_too_large", { detail: `JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.` });
    },
  });
  const parse = createMiddleware<AppEnv>(async (c, next) => {
    const length = c.req.header("content-length");
    const hasBody = c.req.raw.body !== null && length !== "0";
    if (!hasBody) return next();
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_MEDIA_TYPE.test(mediaType)) throw new AppError("unsupported_media_type");
    try {
      await c.req.json();
    } catch {
      throw new AppError("malformed_body");
    }
    return next();
  });
  return createMiddleware<AppEnv>((c, next) =>
    limit(c, async () => {
      await parse(c, next);
    }),
  );
}

/** zod issues → the problem's `errors` list; never the raw zod result. */
function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "body",
    message: issue.message,
  }));
}

/** Validates a part of the request; failures become 422 `validation_failed`. */
export function validate<T extends ZodType, Target extends "json" | "query" | "param">(target: Target, schema: T) {
  return zValidator(target, schema, (result) => {
    if (!result.success) throw new AppError("validation_failed", { errors: fieldErrors(result.error.issues) });
  });
}
