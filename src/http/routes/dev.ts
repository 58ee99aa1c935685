import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { AppError } from "../../errors";
import { readOutbox } from "../../mail/mail";
import type { AppEnv } from "../context";
import { jsonResponse, problems } from "../openapi";
import { outboxQuery, OutboxSchema } from "../schemas";
import { validationHook } from "../validation";

/**
 * `/api/v1/dev`: the dev outbox. It answers only when DEV_OUTBOX is switched on (`npm run dev`
 * and the tests do; wrangler.toml and a deploy do not); otherwise it is an ordinary 404.
 */
export const devRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

devRoutes.use("*", async (c, next) => {
  if (!c.var.deps.config.devOutbox) throw new AppError("not_found");
  await next();
});

const outbox = createRoute({
  method: "get",
  path: "/outbox",
  tags: ["Development"],
  summary: "Mail sent to an address (dev outbox)",
  description: "Newest first. Exists only when `DEV_OUTBOX` is on, which a deploy never is by default.",
  request: { query: outboxQuery },
  responses: { 200: jsonResponse(OutboxSchema, "The messages."), ...problems(["validation_failed", "not_found"]) },
});

devRoutes.openapi(outbox, async (c) => c.json({ messages: await readOutbox(c.var.deps, c.req.valid("query").to) }, 200));
