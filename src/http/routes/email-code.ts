import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { requestEmailCode, verifyEmailCode } from "../../recovery/email-sign-in";
import type { AppEnv } from "../../web/context";
import { deliver, deviceCookie } from "../../web/cookies";
import { emailCodeRequestBody, emailCodeVerifyBody, MessageSchema, SignInResponseSchema } from "../../web/schemas";
import { BODY_ERRORS, jsonBody, jsonResponse, problems } from "../openapi";
import { validationHook } from "../validation";

/**
 * `/api/v1/auth/email-code*`: sign-in by a code mailed to the address (recovery/email-sign-in.ts).
 * A first factor like a password: an account with a second factor is asked for it next.
 */
export const emailCodeRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["Authentication"];
const CODE_SENT = { message: "If this address can sign in by email, we sent it a code and a link. They work once, for 10 minutes." };

const request = createRoute({
  method: "post",
  path: "/email-code",
  tags,
  summary: "Mail a sign-in code and link",
  description:
    "The same bytes, in the same time, whether or not the address has an account (the lookup and the mail come after the answer); none is created unless EMAIL_CODE_SIGN_UP. One mail carries an 8-digit code and a link to `/sign-in/email?token=` (10 minutes, once). A stranger's request never replaces a live code; a known device's (its `device_token`) does. Limited per IP (`email_code_ip_hour`); under a spraying attack unknown clients get the challenge. 403 `forbidden` when EMAIL_CODE_SIGN_IN is off.",
  request: { body: jsonBody(emailCodeRequestBody) },
  responses: {
    202: jsonResponse(MessageSchema, "Accepted."),
    ...problems([...BODY_ERRORS, "rate_limited", "challenge_required", "forbidden", "csrf_rejected"]),
  },
});

emailCodeRoutes.openapi(request, async (c) => {
  const body = c.req.valid("json");
  await requestEmailCode(c.var.deps, { ...body, device_token: body.device_token ?? deviceCookie(c) });
  return c.json(CODE_SENT, 202);
});

const verify = createRoute({
  method: "post",
  path: "/email-code/verify",
  tags,
  summary: "Sign in with a mailed code",
  description:
    "Signs in the client that sends it (`amr` `email`; never `mfa`). A wrong, spent or expired code, and any code for an address without one: 401 `invalid_code`, the same answer. Each code takes 5 wrong answers; strangers' wrong answers per address are limited (`email_code_address_day`, `email_code_address_30_days`: then 429 and the owner is told). The first code sign-in of an unverified address verifies it and removes everything added before (password, sessions, API keys, devices, factors). An account with a second factor answers 403 `mfa_required`; one `MFA_REQUIRED` stops, `mfa_enrollment_required`.",
  request: { body: jsonBody(emailCodeVerifyBody) },
  responses: {
    200: jsonResponse(SignInResponseSchema, "Signed in."),
    ...problems([
      ...BODY_ERRORS,
      "invalid_code",
      "mfa_required",
      "mfa_enrollment_required",
      "rate_limited",
      "challenge_required",
      "forbidden",
      "csrf_rejected",
    ]),
  },
});

emailCodeRoutes.openapi(verify, async (c) => {
  const body = c.req.valid("json");
  const signedIn = await verifyEmailCode(c.var.deps, { ...body, device_token: body.device_token ?? deviceCookie(c) }, "api");
  return c.json(deliver(c, signedIn, c.var.deps.config.cookieDomain), 200);
});
