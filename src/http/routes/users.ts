import { Hono } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../../errors";
import { requireAuth, requireInteractiveSession } from "../middleware/require-auth";
import { requireScope } from "../middleware/require-scope";
import { validate } from "../middleware/validate";
import { updateProfile } from "../../accounts/registration";
import { recordAudit } from "../../audit/audit";
import { changePassword, deleteAccount } from "../../accounts/credentials";
import { requestEmailChange } from "../../recovery/email-change";
import { listSessions, revokeSessions } from "../../sessions/sessions";
import { toUserResponse } from "../../accounts/user-response";
import { apiKeyRoutes } from "./api-keys";
import { changeEmailBody, changePasswordBody, deleteAccountBody, sessionIdParam, updateProfileBody } from "./schemas";
import { securityEventRoutes } from "./security-events";

/** `/api/v1/users/me`: the caller's own account. */
export const userRoutes = new Hono<AppEnv>();

userRoutes.use("*", requireAuth());

userRoutes.get("/", requireScope("profile:read"), (c) => c.json(toUserResponse(c.var.principal.user)));

userRoutes.put("/", requireScope("profile:write"), validate("json", updateProfileBody), async (c) => {
  const user = await updateProfile(c.var.deps, c.var.principal.user, c.req.valid("json"), c.var.meta);
  return c.json(toUserResponse(user));
});

// Credential management below: access tokens only, never API keys.

userRoutes.delete("/", requireInteractiveSession(), validate("json", deleteAccountBody), async (c) => {
  await deleteAccount(c.var.deps, c.var.principal.user, c.req.valid("json").password, c.var.meta);
  return c.body(null, 204);
});

userRoutes.patch("/password", requireInteractiveSession(), validate("json", changePasswordBody), async (c) => {
  const { deps, meta, principal } = c.var;
  await changePassword(deps, principal.user, principal.sessionId ?? "", c.req.valid("json"), meta);
  return c.body(null, 204);
});

userRoutes.get("/sessions", requireInteractiveSession(), async (c) => {
  const { deps, principal } = c.var;
  return c.json({ sessions: await listSessions(deps, principal.user.id, principal.sessionId) });
});

userRoutes.delete("/sessions/:id", requireInteractiveSession(), validate("param", sessionIdParam), async (c) => {
  const { deps, meta, principal } = c.var;
  const { id } = c.req.valid("param");
  const revoked = await revokeSessions(deps, principal.user.id, [id], "revoked_by_user");
  if (revoked.length === 0) throw new AppError("not_found", { detail: "No such session." });
  await recordAudit(deps, meta, { action: "session.revoked", userId: principal.user.id, resource: `session:${id}` });
  return c.body(null, 204);
});

userRoutes.post("/email", requireInteractiveSession(), validate("json", changeEmailBody), async (c) => {
  await requestEmailChange(c.var.deps, c.var.principal.user, c.req.valid("json"), c.var.meta);
  return c.json({ message: "We sent a link to the new address; the change takes effect when it is opened." }, 202);
});

userRoutes.route("/api-keys", apiKeyRoutes);
userRoutes.route("/security-events", securityEventRoutes);
