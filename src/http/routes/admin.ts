import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { unlockAccount } from "../../admin/unlock";
import { identifierOf } from "../../db/users";
import type { AppEnv } from "../../web/context";
import { requireSuperuser } from "../middleware/require-superuser";
import { adminDataRoutes } from "./admin-data";
import { adminOAuthClientRoutes } from "./admin-oauth-clients";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, jsonResponse, noContent, problems, security } from "../openapi";
import {
  AdminUserDetailsSchema,
  AdminUserListSchema,
  AdminUserSchema,
  adminUsersQuery,
  idParam,
  MessageSchema,
  rolesBody,
  unlockBody,
  userSessionParams,
} from "../../web/schemas";
import {
  deactivateUser,
  forcePasswordReset,
  listUsers,
  reactivateUser,
  revokeUserSessions,
  resetSecondFactors,
  setRoles,
  setSuperuserFlag,
  userDetails,
} from "../../admin/users";
import type { Deps } from "../../kernel/deps";
import type { ErrorCode } from "../../errors";
import { validationHook } from "../validation";

/**
 * `/api/v1/admin`: operator actions for superusers (access tokens only). Every action is audited
 * with the acting administrator. The first superuser is granted with `npm run admin -- grant`.
 */
export const adminRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminRoutes.use("*", ...requireSuperuser());
// Import and audit log: behind the same gate, authenticated once.
adminRoutes.route("/", adminDataRoutes);
adminRoutes.route("/", adminOAuthClientRoutes);

const tags = ["Administration"];
const ADMIN_ERRORS = [...AUTH_ERRORS, "insufficient_scope", "forbidden"] as const;

const unlock = createRoute({
  method: "post",
  path: "/unlock",
  tags,
  summary: "Lift an account's lockout",
  security: security.accessToken,
  request: { body: jsonBody(unlockBody) },
  responses: { 204: noContent, ...problems([...BODY_ERRORS, ...ADMIN_ERRORS, "not_found"]) },
});

adminRoutes.openapi(unlock, async (c) => {
  await unlockAccount(c.var.deps, c.var.principal.user.id, identifierOf(c.req.valid("json")));
  return c.body(null, 204);
});

const listUsersRoute = createRoute({
  method: "get",
  path: "/users",
  tags,
  summary: "List and search users",
  description:
    "Newest first, keyset-paged (`next_cursor`). `query` matches the start of the email or username; `status` is active, deactivated, unverified or locked (none: all); `created_after`/`created_before` bound the creation time.",
  security: security.accessToken,
  request: { query: adminUsersQuery },
  responses: { 200: jsonResponse(AdminUserListSchema, "One page of users."), ...problems([...ADMIN_ERRORS, "validation_failed"]) },
});

adminRoutes.openapi(listUsersRoute, async (c) => c.json(await listUsers(c.var.deps, c.req.valid("query")), 200));

const userRoute = createRoute({
  method: "get",
  path: "/users/{id}",
  tags,
  summary: "One user: profile, sessions, API keys, devices, lock, recent events",
  security: security.accessToken,
  request: { params: idParam },
  responses: { 200: jsonResponse(AdminUserDetailsSchema, "The user."), ...problems([...ADMIN_ERRORS, "validation_failed", "not_found"]) },
});

adminRoutes.openapi(userRoute, async (c) => c.json(await userDetails(c.var.deps, c.req.valid("param").id), 200));

/** An action on one user that answers 204 (or 202), declared and registered in one go. */
function userAction(
  path: string,
  summary: string,
  description: string,
  run: (deps: Deps, actorId: string, userId: string) => Promise<void>,
  options: { accepted?: boolean; errors?: ErrorCode[] } = {},
) {
  const status = options.accepted ? 202 : 204;
  const route = createRoute({
    method: "post",
    path,
    tags,
    summary,
    description,
    security: security.accessToken,
    request: { params: idParam },
    responses: {
      [status]: options.accepted ? jsonResponse(MessageSchema, "Accepted.") : noContent,
      ...problems([...ADMIN_ERRORS, "validation_failed", "not_found", ...(options.errors ?? [])]),
    },
  });
  adminRoutes.openapi(route, async (c) => {
    await run(c.var.deps, c.var.principal.user.id, c.req.valid("param").id);
    return options.accepted ? c.json({ message: "Done." }, 202) : c.body(null, 204);
  });
}

userAction(
  "/users/{id}/deactivate",
  "Deactivate a user",
  "Reversible; every session, access token, API key and mailed link dies at once. Not the last active superuser (409).",
  deactivateUser,
  { errors: ["last_superuser"] },
);
userAction("/users/{id}/reactivate", "Reactivate a user", "The user can log in again; old credentials stay revoked.", reactivateUser);
userAction(
  "/users/{id}/password-reset",
  "Force a password reset",
  "Treats the account as taken over: disables the current password (login answers 401 until the user sets a new one), revokes every session, device token and API key, voids pending reset and email-change links, and mails a reset link.",
  forcePasswordReset,
  { accepted: true },
);
userAction("/users/{id}/superuser", "Grant superuser", "The user becomes an administrator.", (deps, actor, id) =>
  setSuperuserFlag(deps, actor, id, true),
);

const revokeSuperuserRoute = createRoute({
  method: "delete",
  path: "/users/{id}/superuser",
  tags,
  summary: "Revoke superuser",
  description: "Never the last active superuser: 409 `last_superuser`.",
  security: security.accessToken,
  request: { params: idParam },
  responses: { 204: noContent, ...problems([...ADMIN_ERRORS, "validation_failed", "not_found", "last_superuser"]) },
});

adminRoutes.openapi(revokeSuperuserRoute, async (c) => {
  await setSuperuserFlag(c.var.deps, c.var.principal.user.id, c.req.valid("param").id, false);
  return c.body(null, 204);
});

const resetMfaRoute = createRoute({
  method: "delete",
  path: "/users/{id}/mfa",
  tags,
  summary: "Reset a user's second factors",
  description:
    "Removes the authenticator app, every passkey (each also serves as a second step) and the recovery codes; audited with the administrator, mailed to the user. The user's next enrolment also needs a code mailed to the account's address (`email_code`), so a reset cannot be turned into a takeover by someone with only the password. Sessions stay. An account whose only way in was a passkey signs in again through a password reset.",
  security: security.accessToken,
  request: { params: idParam },
  responses: { 204: noContent, ...problems([...ADMIN_ERRORS, "validation_failed", "not_found"]) },
});

adminRoutes.openapi(resetMfaRoute, async (c) => {
  await resetSecondFactors(c.var.deps, c.var.principal.user.id, c.req.valid("param").id);
  return c.body(null, 204);
});

const rolesRoute = createRoute({
  method: "put",
  path: "/users/{id}/roles",
  tags,
  summary: "Set a user's roles",
  description: "Access tokens carry `roles`; a change reaches them at the user's next refresh or login.",
  security: security.accessToken,
  request: { params: idParam, body: jsonBody(rolesBody) },
  responses: { 200: jsonResponse(AdminUserSchema, "The user."), ...problems([...BODY_ERRORS, ...ADMIN_ERRORS, "not_found"]) },
});

adminRoutes.openapi(rolesRoute, async (c) =>
  c.json(await setRoles(c.var.deps, c.var.principal.user.id, c.req.valid("param").id, c.req.valid("json").roles), 200),
);

const revokeAllRoute = createRoute({
  method: "delete",
  path: "/users/{id}/sessions",
  tags,
  summary: "Sign a user out everywhere",
  security: security.accessToken,
  request: { params: idParam },
  responses: { 204: noContent, ...problems([...ADMIN_ERRORS, "validation_failed", "not_found"]) },
});

adminRoutes.openapi(revokeAllRoute, async (c) => {
  await revokeUserSessions(c.var.deps, c.var.principal.user.id, c.req.valid("param").id);
  return c.body(null, 204);
});

const revokeOneRoute = createRoute({
  method: "delete",
  path: "/users/{id}/sessions/{sid}",
  tags,
  summary: "Sign one of a user's sessions out",
  security: security.accessToken,
  request: { params: userSessionParams },
  responses: { 204: noContent, ...problems([...ADMIN_ERRORS, "validation_failed", "not_found"]) },
});

adminRoutes.openapi(revokeOneRoute, async (c) => {
  const { id, sid } = c.req.valid("param");
  await revokeUserSessions(c.var.deps, c.var.principal.user.id, id, sid);
  return c.body(null, 204);
});
