import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { confirmTotp, disableTotp, mfaStatus, regenerateRecoveryCodes, startTotp } from "../../accounts/mfa";
import type { AppEnv } from "../../web/context";
import { requireInteractiveSession, sessionOrEnrolment } from "../middleware/require-auth";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, jsonResponse, noContent, optionalJsonBody, problems, security } from "../openapi";
import { enrolmentStartBody, MfaStatusSchema, RecoveryCodesSchema, TotpEnrolmentSchema, totpConfirmBody } from "../../web/schemas";
import { validationHook } from "../validation";

/**
 * `/api/v1/users/me/mfa`, mounted from users.ts behind `requireAuth()`: the second factors. Only an
 * access token manages them (an API key gets 403 `insufficient_scope`), and every change needs fresh
 * authentication (a sign-in or step-up in the last 5 minutes; with a second factor, one proved with it).
 */
export const mfaRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["Second factor"];
const SESSION_ONLY = [...AUTH_ERRORS, "insufficient_scope"] as const;
const FRESH = [...SESSION_ONLY, "reauthentication_required"] as const;
/** The enrolment endpoints' start also asks for the mailed code after an administrator's reset. */
const ENROLMENT_START = [...FRESH, "email_code_required", "invalid_code"] as const;

const status = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The account's second factors",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: {
    200: jsonResponse(MfaStatusSchema, "What is enabled, and how many recovery codes are left."),
    ...problems([...SESSION_ONLY]),
  },
});

mfaRoutes.openapi(status, async (c) => c.json(await mfaStatus(c.var.deps, c.var.session.user), 200));

const start = createRoute({
  method: "post",
  path: "/totp",
  tags,
  summary: "Start setting up an authenticator app",
  description:
    "A new secret, pending until a code confirms it (an earlier pending one is replaced). 409 `mfa_already_enabled` while one is enabled. Also accepts an enrolment `mfa_token` (`Authorization: MFA`). After an administrator reset the account's factors: 403 `email_code_required` (a code is mailed to the account's address) until the body carries it as `email_code`.",
  security: security.accessOrEnrolment,
  middleware: [sessionOrEnrolment()] as const,
  request: { body: optionalJsonBody(enrolmentStartBody) },
  responses: {
    200: jsonResponse(TotpEnrolmentSchema, "The secret and the `otpauth://` URI for the app."),
    ...problems([...BODY_ERRORS, ...ENROLMENT_START, "mfa_already_enabled"]),
  },
});

mfaRoutes.openapi(start, async (c) => c.json(await startTotp(c.var.deps, c.var.caller, c.req.valid("json").email_code), 200));

const confirm = createRoute({
  method: "post",
  path: "/totp/confirm",
  tags,
  summary: "Enable the authenticator app with one of its codes",
  description:
    "The account's first second factor comes with 10 recovery codes, in this answer only. The account's address gets a notice whose link undoes the enrolment. Wrong codes spend the session's budget (`mfa_session_30_minutes`). Also accepts an enrolment `mfa_token`: the sign-in then finishes at `POST /auth/mfa` with a code of a later step.",
  security: security.accessOrEnrolment,
  middleware: [sessionOrEnrolment()] as const,
  request: { body: jsonBody(totpConfirmBody) },
  responses: {
    200: jsonResponse(RecoveryCodesSchema, "Enabled."),
    ...problems([...BODY_ERRORS, ...FRESH, "invalid_code", "not_found", "rate_limited"]),
  },
});

mfaRoutes.openapi(confirm, async (c) => c.json(await confirmTotp(c.var.deps, c.var.caller, c.req.valid("json").code), 200));

const disable = createRoute({
  method: "delete",
  path: "/totp",
  tags,
  summary: "Remove the authenticator app",
  description:
    "Needs a step-up with the second factor. With the last second factor, the recovery codes go too; while `MFA_REQUIRED` applies to the account, removing the last one answers 409 `last_second_factor`.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: { 204: noContent, ...problems([...FRESH, "not_found", "last_second_factor"]) },
});

mfaRoutes.openapi(disable, async (c) => {
  await disableTotp(c.var.deps, c.var.session);
  return c.body(null, 204);
});

const regenerate = createRoute({
  method: "post",
  path: "/recovery-codes",
  tags,
  summary: "Replace the recovery codes",
  description: "A new set of 10, in this answer only; the old set stops working.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: { 200: jsonResponse(RecoveryCodesSchema, "The new codes."), ...problems([...FRESH, "not_found"]) },
});

mfaRoutes.openapi(regenerate, async (c) => c.json(await regenerateRecoveryCodes(c.var.deps, c.var.session), 200));
