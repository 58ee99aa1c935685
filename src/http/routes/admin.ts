import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "../context";
import { findUserByIdentifier, identifierOf } from "../../db/users";
import { AppError } from "../../errors";
import { requireAuth, requireInteractiveSession } from "../middleware/require-auth";
import { validate } from "../middleware/validate";
import { clearLockout } from "../../abuse/limits";
import { emailField } from "./schemas";

/**
 * `/api/v1/admin`: operator actions for superusers (`users.is_superuser`, set in D1 by hand —
 * no endpoint grants it). Today: lifting an account's lockout, the hard tier included.
 */
export const adminRoutes = new Hono<AppEnv>();

const requireSuperuser = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.var.principal.user.isSuperuser) throw new AppError("forbidden", { detail: "Administrators only." });
  await next();
});

adminRoutes.use("*", requireAuth(), requireInteractiveSession(), requireSuperuser);

const unlockBody = z
  .object({ email: emailField.optional(), username: z.string().trim().min(1).max(50).optional() })
  .refine((b) => (b.email === undefined) !== (b.username === undefined), { message: "Send either email or username.", path: ["email"] });

adminRoutes.post("/unlock", validate("json", unlockBody), async (c) => {
  const { deps, meta } = c.var;
  const user = await findUserByIdentifier(deps.db, identifierOf(c.req.valid("json")));
  if (!user) throw new AppError("not_found", { detail: "No such account." });
  await clearLockout(deps, meta, user, "admin");
  return c.body(null, 204);
});
