import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../context";
import { requireScope } from "../middleware/require-scope";
import { validate } from "../middleware/validate";
import { listSecurityEvents, SECURITY_EVENTS_MAX_LIMIT } from "../../audit/security-events";

/** `/api/v1/users/me/security-events`, mounted from users.ts behind `requireAuth()`. */
export const securityEventRoutes = new Hono<AppEnv>();

const securityEventsQuery = z.object({
  limit: z.coerce.number().int("Use a whole number.").min(1).max(SECURITY_EVENTS_MAX_LIMIT).optional(),
  cursor: z.string().min(1).max(200).optional(),
});

securityEventRoutes.get("/", requireScope("security_events:read"), validate("query", securityEventsQuery), async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await listSecurityEvents(c.var.deps, c.var.principal.user.id, { limit, cursor }));
});
