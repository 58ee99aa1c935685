import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { changePassword, deleteAccount } from "../../accounts/credentials";
import { updateProfile } from "../../accounts/profile";
import { toUserResponse } from "../../kernel/user-response";
import { listSecurityEvents } from "../../audit/security-events";
import { listDevices, revokeOwnDevice } from "../../devices/devices";
import { requestEmailChange } from "../../recovery/email-change";
import { setEmailCodeSignIn } from "../../recovery/email-sign-in";
import { listSessions, revokeOwnSession } from "../../sessions/sessions";
import type { AppEnv } from "../../web/context";
import { requireAuth, requireInteractiveSession } from "../middleware/require-auth";
import { requireScope } from "../middleware/require-scope";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, jsonResponse, noContent, problems, security } from "../openapi";
import {
  changeEmailBody,
  changePasswordBody,
  deleteAccountBody,
  DeviceListSchema,
  emailCodeSignInBody,
  EmailCodeSignInSchema,
  MessageSchema,
  SecurityEventPageSchema,
  securityEventsQuery,
  idParam,
  SessionListSchema,
  sessionsQuery,
  updateProfileBody,
  UserSchema,
} from "../../web/schemas";
import { validationHook } from "../validation";
import { apiKeyRoutes } from "./api-keys";
import { mfaRoutes } from "./mfa";
import { passkeyRoutes } from "./passkeys";
import { identityRoutes } from "./identities";
import { grantRoutes } from "./grants";

/**
 * `/api/v1/users/me`: the caller's own account. Profile and security log accept API keys with the
 * right scope; credential management (password, email, sessions, keys, deletion) needs an access
 * token, so an API key gets 403 `insufficient_scope` there.
 */
export const userRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

userRoutes.use("*", requireAuth());

const tags = ["Account"];
/** What every credential-management route may answer besides its own errors. */
const SESSION_ONLY = [...AUTH_ERRORS, "insufficient_scope"] as const;

const getMe = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The caller's profile",
  security: security.anyCredential,
  middleware: [requireScope("profile:read")] as const,
  responses: { 200: jsonResponse(UserSchema, "The profile."), ...problems([...AUTH_ERRORS, "insufficient_scope"]) },
});

userRoutes.openapi(getMe, (c) => c.json(toUserResponse(c.var.principal.user), 200));

const putMe = createRoute({
  method: "put",
  path: "/",
  tags,
  summary: "Change name or username",
  description:
    "Other fields (`email`, `is_superuser`, …) are ignored here. A call that changes nothing writes nothing and answers the profile as it is. Changes are limited per user (`profile_update_user_hour`); changing the username also per user and per client IP (`username_change_user_day`, `username_change_ip_day`): 429 when spent.",
  security: security.anyCredential,
  middleware: [requireScope("profile:write")] as const,
  request: { body: jsonBody(updateProfileBody) },
  responses: {
    200: jsonResponse(UserSchema, "The updated profile."),
    ...problems([...BODY_ERRORS, ...AUTH_ERRORS, "insufficient_scope", "username_taken", "rate_limited"]),
  },
});

userRoutes.openapi(putMe, async (c) =>
  c.json(toUserResponse(await updateProfile(c.var.deps, c.var.principal.user, c.req.valid("json"))), 200),
);

const deleteMe = createRoute({
  method: "delete",
  path: "/",
  tags,
  summary: "Delete the account",
  description:
    "Needs the password. Every session, access token and API key dies; the address is free again. The last active superuser cannot delete their account: 409 `last_superuser` (make someone else a superuser first).",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { body: jsonBody(deleteAccountBody) },
  responses: {
    204: noContent,
    ...problems([
      ...BODY_ERRORS,
      ...SESSION_ONLY,
      "invalid_current_password",
      "account_locked",
      "rate_limited",
      "last_superuser",
      "reauthentication_required",
    ]),
  },
});

userRoutes.openapi(deleteMe, async (c) => {
  await deleteAccount(c.var.deps, c.var.session, c.req.valid("json").password);
  return c.body(null, 204);
});

const changePasswordRoute = createRoute({
  method: "patch",
  path: "/password",
  tags,
  summary: "Change the password",
  description: "The caller's session survives; every other session is revoked.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { body: jsonBody(changePasswordBody) },
  responses: {
    204: noContent,
    ...problems([
      ...BODY_ERRORS,
      ...SESSION_ONLY,
      "invalid_current_password",
      "weak_password",
      "account_locked",
      "rate_limited",
      "reauthentication_required",
    ]),
  },
});

userRoutes.openapi(changePasswordRoute, async (c) => {
  await changePassword(c.var.deps, c.var.session, c.req.valid("json"));
  return c.body(null, 204);
});

const listSessionsRoute = createRoute({
  method: "get",
  path: "/sessions",
  tags,
  summary: "The caller's live sessions",
  description: "Newest first, paged with `next_cursor`.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { query: sessionsQuery },
  responses: {
    200: jsonResponse(SessionListSchema, "One page of sessions; no token values."),
    ...problems([...SESSION_ONLY, "validation_failed"]),
  },
});

userRoutes.openapi(listSessionsRoute, async (c) => {
  const { user, sessionId } = c.var.session;
  return c.json(await listSessions(c.var.deps, user.id, sessionId, c.req.valid("query")), 200);
});

const revokeSessionRoute = createRoute({
  method: "delete",
  path: "/sessions/{id}",
  tags,
  summary: "Sign one session out",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { params: idParam },
  responses: { 204: noContent, ...problems([...SESSION_ONLY, "validation_failed", "not_found"]) },
});

userRoutes.openapi(revokeSessionRoute, async (c) => {
  await revokeOwnSession(c.var.deps, c.var.session.user.id, c.req.valid("param").id);
  return c.body(null, 204);
});

const changeEmailRoute = createRoute({
  method: "post",
  path: "/email",
  tags,
  summary: "Change the email address",
  description:
    "Needs the password. Mails a link to the new address and a notice to the old one; the address changes when the link is opened (`/auth/verify-email`). Limited per user (`email_change_user_hour`, `email_change_user_day`) and per target address whoever asks (`email_change_address_hour`, `email_change_address_day`, `email_change_address_5_minutes`): 429 when spent.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { body: jsonBody(changeEmailBody) },
  responses: {
    202: jsonResponse(MessageSchema, "Accepted: a link was mailed to the new address."),
    ...problems([
      ...BODY_ERRORS,
      ...SESSION_ONLY,
      "invalid_current_password",
      "account_locked",
      "rate_limited",
      "reauthentication_required",
    ]),
  },
});

userRoutes.openapi(changeEmailRoute, async (c) => {
  await requestEmailChange(c.var.deps, c.var.session, c.req.valid("json"));
  return c.json({ message: "We sent a link to the new address; the change takes effect when it is opened." }, 202);
});

const securityEventsRoute = createRoute({
  method: "get",
  path: "/security-events",
  tags,
  summary: "The caller's security log",
  description: "Newest first, paged with `next_cursor`.",
  security: security.anyCredential,
  middleware: [requireScope("security_events:read")] as const,
  request: { query: securityEventsQuery },
  responses: {
    200: jsonResponse(SecurityEventPageSchema, "One page of events."),
    ...problems([...AUTH_ERRORS, "insufficient_scope", "validation_failed"]),
  },
});

userRoutes.openapi(securityEventsRoute, async (c) =>
  c.json(await listSecurityEvents(c.var.deps, c.var.principal.user.id, c.req.valid("query")), 200),
);

const listDevicesRoute = createRoute({
  method: "get",
  path: "/devices",
  tags,
  summary: "The caller's known devices",
  description:
    "Devices holding a live device token (from registration or a login). A known device has its own failure budget, so strangers guessing at the address never lock it out. A password change or reset, an email revert and logout-all end them all.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: { 200: jsonResponse(DeviceListSchema, "Newest first; no token values."), ...problems([...SESSION_ONLY]) },
});

userRoutes.openapi(listDevicesRoute, async (c) => c.json({ devices: await listDevices(c.var.deps, c.var.session.user) }, 200));

const revokeDeviceRoute = createRoute({
  method: "delete",
  path: "/devices/{id}",
  tags,
  summary: "Forget one device",
  description: "Its device token stops counting as known; the device's sessions are not signed out (see sessions).",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { params: idParam },
  responses: { 204: noContent, ...problems([...SESSION_ONLY, "validation_failed", "not_found"]) },
});

userRoutes.openapi(revokeDeviceRoute, async (c) => {
  await revokeOwnDevice(c.var.deps, c.var.session.user.id, c.req.valid("param").id);
  return c.body(null, 204);
});

const emailCodeSignInRoute = createRoute({
  method: "get",
  path: "/email-code-sign-in",
  tags,
  summary: "Whether a mailed code may sign in to this account",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: { 200: jsonResponse(EmailCodeSignInSchema, "On (the default) or off."), ...problems([...SESSION_ONLY]) },
});

userRoutes.openapi(emailCodeSignInRoute, (c) => c.json({ enabled: c.var.session.user.emailCodeSignIn }, 200));

const setEmailCodeSignInRoute = createRoute({
  method: "put",
  path: "/email-code-sign-in",
  tags,
  summary: "Turn sign-in by mailed code on or off",
  description: "Off: `POST /auth/email-code` mails nothing for this address and no code signs in. Fresh authentication.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { body: jsonBody(emailCodeSignInBody) },
  responses: {
    200: jsonResponse(EmailCodeSignInSchema, "The setting now."),
    ...problems([...BODY_ERRORS, ...SESSION_ONLY, "reauthentication_required"]),
  },
});

userRoutes.openapi(setEmailCodeSignInRoute, async (c) =>
  c.json(await setEmailCodeSignIn(c.var.deps, c.var.session, c.req.valid("json").enabled), 200),
);

userRoutes.route("/api-keys", apiKeyRoutes);
userRoutes.route("/mfa", mfaRoutes);
userRoutes.route("/passkeys", passkeyRoutes);
userRoutes.route("/identities", identityRoutes);
userRoutes.route("/grants", grantRoutes);
