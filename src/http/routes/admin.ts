import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { unlockAccount } from "../../admin/unlock";
import { identifierOf } from "../../db/users";
import { AppError } from "../../errors";
import type { AppEnv } from "../context";
import { requireAuth, requireInteractiveSession } from "../middleware/require-auth";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, noContent, problems, security } from "../openapi";
import { unlockBody } from "../schemas";
import { validationHook } from "../validation";

/**
 * `/api/v1/admin`: operator actions for superusers (`users.is_superuser`, set in D1 by hand —
 * no endpoint grants it). Today: lifting an account's lockout, the hard tier included.
 */
export const adminRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const requireSuperuser = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.var.principal.user.isSuperuser) throw new AppError("forbidden", { detail: "Administrators only." });
  await next();
});

adminRoutes.use("*", requireAuth(), requireInteractiveSession(), requireSuperuser);

const unlock = createRoute({
  method: "post",
  path: "/unlock",
  tags: ["Administration"],
  summary: "Lift an account's lockout",
  security: security.accessToken,
  request: { body: jsonBody(unlockBody) },
  responses: { 204: noContent, ...problems([...BODY_ERRORS, ...AUTH_ERRORS, "insufficient_scope", "forbidden", "not_found"]) },
});

adminRoutes.openapi(unlock, async (c) => {
  await unlockAccount(c.var.deps, c.var.principal.user.id, identifierOf(c.req.valid("json")));
  return c.body(null, 204);
});
