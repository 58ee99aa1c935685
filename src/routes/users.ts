import { Hono } from "hono";
import type { AppEnv } from "../context";
import { requireAuth, requireInteractiveSession } from "../middleware/require-auth";
import { validate } from "../middleware/validate";
import { updateProfile } from "../services/accounts";
import { requestEmailChange } from "../services/email-change";
import { toUserResponse } from "../services/user-response";
import { changeEmailBody, updateProfileBody } from "./schemas";

/** `/api/v1/users/me`: the caller's own account. */
export const userRoutes = new Hono<AppEnv>();

userRoutes.use("*", requireAuth());

userRoutes.get("/", (c) => c.json(toUserResponse(c.var.principal.user)));

userRoutes.put("/", validate("json", updateProfileBody), async (c) => {
  const user = await updateProfile(c.var.deps, c.var.principal.user, c.req.valid("json"), c.var.meta);
  return c.json(toUserResponse(user));
});

userRoutes.post("/email", requireInteractiveSession(), validate("json", changeEmailBody), async (c) => {
  await requestEmailChange(c.var.deps, c.var.principal.user, c.req.valid("json"), c.var.meta);
  return c.json({ message: "We sent a link to the new address; the change takes effect when it is opened." }, 202);
});
