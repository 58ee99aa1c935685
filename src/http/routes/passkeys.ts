import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { addPasskey, listOwnPasskeys, passkeyCreationOptions, removeOwnPasskey, renameOwnPasskey } from "../../accounts/passkeys";
import type { AppEnv } from "../../web/context";
import { requireInteractiveSession, sessionOrEnrolment } from "../middleware/require-auth";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, jsonResponse, noContent, optionalJsonBody, problems, security } from "../openapi";
import {
  addPasskeyBody,
  CreationOptionsSchema,
  enrolmentStartBody,
  idParam,
  PasskeyListSchema,
  PasskeySchema,
  renamePasskeyBody,
} from "../../web/schemas";
import { validationHook } from "../validation";

/**
 * `/api/v1/users/me/passkeys`, mounted from users.ts behind `requireAuth()`: the caller's passkeys.
 * Only an access token manages them (an API key gets 403 `insufficient_scope`); adding and removing
 * need fresh authentication.
 */
export const passkeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["Passkeys"];
const SESSION_ONLY = [...AUTH_ERRORS, "insufficient_scope"] as const;
const FRESH = [...SESSION_ONLY, "reauthentication_required"] as const;

const options = createRoute({
  method: "post",
  path: "/options",
  tags,
  summary: "Creation options for a new passkey",
  description:
    "Discoverable credential, user verification required, attestation `none`; the challenge works once, for 5 minutes, for this account. Also accepts an enrolment `mfa_token` (`Authorization: MFA`). After an administrator reset the account's factors: 403 `email_code_required` (a code is mailed to the account's address) until the body carries it as `email_code`.",
  security: security.accessOrEnrolment,
  middleware: [sessionOrEnrolment()] as const,
  request: { body: optionalJsonBody(enrolmentStartBody) },
  responses: {
    200: jsonResponse(
      CreationOptionsSchema,
      "Pass to `navigator.credentials.create()` (`PublicKeyCredential.parseCreationOptionsFromJSON`).",
    ),
    ...problems([...BODY_ERRORS, ...FRESH, "email_code_required", "invalid_code"]),
  },
});

passkeyRoutes.openapi(options, async (c) =>
  c.json(await passkeyCreationOptions(c.var.deps, c.var.caller, c.req.valid("json").email_code), 200),
);

const add = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Add a passkey",
  description:
    "The registration response (`PublicKeyCredential.toJSON()`). The account's first second factor comes with 10 recovery codes in this answer only; the account's address gets a notice whose link removes it. Also accepts an enrolment `mfa_token`: the sign-in then finishes at `POST /auth/mfa` with an assertion of the new passkey.",
  security: security.accessOrEnrolment,
  middleware: [sessionOrEnrolment()] as const,
  request: { body: jsonBody(addPasskeyBody) },
  responses: { 201: jsonResponse(PasskeySchema, "Added."), ...problems([...BODY_ERRORS, ...FRESH]) },
});

passkeyRoutes.openapi(add, async (c) => {
  const { credential, name } = c.req.valid("json");
  return c.json(await addPasskey(c.var.deps, c.var.caller, { credential, name }), 201);
});

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The caller's passkeys",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  responses: { 200: jsonResponse(PasskeyListSchema, "Oldest first."), ...problems([...SESSION_ONLY]) },
});

passkeyRoutes.openapi(list, async (c) => c.json(await listOwnPasskeys(c.var.deps, c.var.session.user), 200));

const rename = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Rename a passkey",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { params: idParam, body: jsonBody(renamePasskeyBody) },
  responses: { 200: jsonResponse(PasskeySchema, "Renamed."), ...problems([...BODY_ERRORS, ...SESSION_ONLY, "not_found"]) },
});

passkeyRoutes.openapi(rename, async (c) =>
  c.json(await renameOwnPasskey(c.var.deps, c.var.session.user, c.req.valid("param").id, c.req.valid("json").name), 200),
);

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Remove a passkey",
  description:
    "Fresh authentication; 409 `last_sign_in_method` when it is the account's last way in, 409 `last_second_factor` when it is the last second factor while `MFA_REQUIRED` applies to the account.",
  security: security.accessToken,
  middleware: [requireInteractiveSession()] as const,
  request: { params: idParam },
  responses: { 204: noContent, ...problems([...FRESH, "validation_failed", "not_found", "last_sign_in_method", "last_second_factor"]) },
});

passkeyRoutes.openapi(remove, async (c) => {
  await removeOwnPasskey(c.var.deps, c.var.session, c.req.valid("param").id);
  return c.body(null, 204);
});
