import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { AppError } from "../../errors";
import { validate } from "../middleware/validate";
import { readOutbox } from "../../mail/mail";

/**
 * `/api/v1/dev`: the dev outbox. It answers only when DEV_OUTBOX is switched on (`npm run dev`
 * and the tests do; wrangler.toml and a deploy do not); otherwise it is an ordinary 404.
 */
export const devRoutes = new Hono<AppEnv>();

devRoutes.use("*", async (c, next) => {
  if (!c.var.deps.config.devOutbox) throw new AppError("not_found");
  await next();
});

devRoutes.get("/outbox", validate("query", z.object({ to: z.string().trim().min(3).max(254) })), async (c) => {
  const messages = await readOutbox(c.var.deps, c.req.valid("query").to);
  return c.json({ messages });
});
