import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../web/context";
import { AppError } from "../../errors";

/** JSON bodies larger than this are refused with 413 before they are parsed. */
const JSON_BODY_LIMIT = 16 * 1024;

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * The one route whose body is not a JSON document: the user import streams NDJSON (up to 5 MiB,
 * read line by line, never buffered whole) and enforces its own media type and size limits
 * (src/admin/import.ts). Parsing it here would refuse it (415, 413) and buffer it.
 */
const STREAMED_BODY_ROUTES = new Set(["POST /api/v1/admin/users/import"]);

/**
 * An external provider's `form_post` callback (Apple's): a form, posted cross-site by the provider,
 * answered with HTML by the pages (pages/external-sign-in.tsx, which limit its size).
 */
const FORM_POST_CALLBACK = /^\/api\/v1\/auth\/oauth\/[a-z][a-z0-9_-]{0,31}\/callback$/;

const exempt = (method: string, path: string) =>
  STREAMED_BODY_ROUTES.has(`${method} ${path}`) || (method === "POST" && FORM_POST_CALLBACK.test(path));

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
    exempt(c.req.method, c.req.path)
      ? next()
      : limit(c, async () => {
          await parse(c, next);
        }),
  );
}
