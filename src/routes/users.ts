import { Hono } from "hono";
import type { AppEnv } from "../context";
import { requireAuth } from "../middleware/require-auth";
import { requireScope } from "../middleware/require-scope";
import { validate } from "../middleware/validate";
import { updateProfile } from "../services/accounts";
import { toUserResponse } from "../services/user-response";
import { apiKeyRoutes } from "./api-keys";
import { updateProfileBody } from "./schemas";
import { securityEventRoutes } from "./security-events";

/** `/api/v1/users/me`: the caller's own account. */
export const userRoutes = new Hono<AppEnv>();

userRoutes.use("*", requireAuth());

userRoutes.get("/", requireScope("profile:read"), (c) => c.json(toUserResponse(c.var.principal.user)));

userRoutes.put("/", requireScope("profile:write"), validate("json", updateProfileBody), async (c) => {
  const user = await updateProfile(c.var.deps, c.var.principal.user, c.req.valid("json"), c.var.meta);
  return c.json(toUserResponse(user));
});

// --- API keys and the security log (issue 6): sub-routers, so other branches' routes merge cleanly.
userRoutes.route("/api-keys", apiKeyRoutes);
userRoutes.route("/security-events", securityEventRoutes);
