import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { logIn } from "../../accounts/login";
import { completeSecondStep } from "../../accounts/sign-in";
import { stepUp } from "../../accounts/step-up";
import {
  completeSecondStepWithPasskey,
  passkeySignInOptions,
  secondStepPasskeyOptions,
  signInWithPasskey,
  stepUpPasskeyOptions,
} from "../../accounts/passkeys";
import { registerUser } from "../../accounts/registration";
import { confirmEmailToken, resendVerification } from "../../recovery/email-verification";
import { revertEmailChange } from "../../recovery/email-change";
import { revertSignIn } from "../../recovery/sign-in-revert";
import { requestPasswordReset, resetPassword } from "../../recovery/password-reset";
import { endSession, logOut, refreshSession } from "../../sessions/sessions";
import { AppError } from "../../errors";
import type { AppEnv, Principal } from "../../web/context";
import { clearSessionCookies, deliver, deviceCookie, refreshCookie, wantsCookies } from "../../web/cookies";
import { limitPerIp } from "../middleware/rate-limit";
import { enforceIpLimit } from "../../abuse/ip-limits";
import { describeError, log } from "../../log";
import {
  optionalAuth,
  requireAuth,
  requireInteractiveSession,
  sessionPrincipal,
  sessionTokenOffline,
  unauthorized,
} from "../middleware/require-auth";
import { AUTH_ERRORS, BODY_ERRORS, jsonBody, jsonResponse, noContent, problems, security } from "../openapi";
import { validationHook } from "../validation";
import {
  emailBody,
  loginBody,
  logoutBody,
  logoutQuery,
  MessageSchema,
  mfaBody,
  mfaTokenBody,
  passkeySignInBody,
  RequestOptionsSchema,
  stepUpBody,
  refreshBody,
  registerBody,
  resetPasswordBody,
  SignInResponseSchema,
  tokenBody,
  TokenResponseSchema,
  verifyEmailBody,
} from "../../web/schemas";

/** `/api/v1/auth`: registration, login, token refresh, logout, recovery and verification. */
export const authRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const tags = ["Authentication"];

/** Appended to the routes that speak cookie mode. */
const COOKIE_MODE =
  " Browsers: send `Gatehouse-Token-Delivery: cookie` to get the refresh token (and device token) in HttpOnly `__Host-` cookies instead of the body; such requests need an `Origin` that is the worker's own or in `CORS_ORIGINS` (else 403 `csrf_rejected`).";

/** Constant answers: identical bytes whether or not the address has an account. */
const ACCEPTED_REGISTRATION = {
  verify: { message: "Check your inbox: we sent a link to confirm your email address." },
  enrol: { message: "Account created. Sign in to set up two-step verification, which this site requires." },
};
const RESET_REQUESTED = { message: "If an account exists for this address, we sent it a link to reset the password." };
const VERIFICATION_RESENT = { message: "If this address has an account waiting for verification, we sent it a new link." };
const PASSWORD_RESET = { message: "Your password was reset and every session was signed out. Log in with the new password." };
const CONFIRMED = {
  verified: { message: "Your email address is verified." },
  verified_new_password: { message: "Your email address is verified and your new password is set. Log in with it." },
  changed: { message: "Your email address was changed." },
} as const;
const SECURED = {
  message: "Every session was signed out and the password was disabled. We sent a link to set a new password.",
};
const REVERTED = {
  message: "Your email address was restored and every session was signed out. We sent a link to set a new password.",
};

const register = createRoute({
  method: "post",
  path: "/register",
  tags,
  summary: "Create an account",
  description:
    "Creates the account and signs it in (201). With `REQUIRE_EMAIL_VERIFICATION` the answer is 202 for new and taken addresses alike, and the owner of a taken one is told by mail. With `MFA_REQUIRED=all` it is 202 too, without a session: the first sign-in enrols a second factor (`403 mfa_enrollment_required`)." +
    COOKIE_MODE,
  request: { body: jsonBody(registerBody) },
  responses: {
    201: jsonResponse(SignInResponseSchema, "Account created and signed in."),
    202: jsonResponse(
      MessageSchema,
      "Accepted: a verification link was mailed (email verification required), or the account waits for its first sign-in to enrol a second factor (`MFA_REQUIRED=all`).",
    ),
    ...problems([...BODY_ERRORS, "weak_password", "email_taken", "username_taken", "rate_limited", "csrf_rejected"]),
  },
});

authRoutes.openapi(
  register,
  limitPerIp("register", register, async (c) => {
    const result = await registerUser(c.var.deps, c.req.valid("json"));
    return result.kind === "accepted"
      ? c.json(ACCEPTED_REGISTRATION[result.next], 202)
      : c.json(deliver(c, result.tokens, c.var.deps.config.cookieDomain), 201);
  }),
);

const login = createRoute({
  method: "post",
  path: "/login",
  tags,
  summary: "Log in with a password",
  description:
    "Precedence: the per-IP limit (429), then, while sign-ins are under a password-spraying attack and the client has no known device token, the challenge (403 `challenge_required` with `site_key`, or a tighter per-IP limit), then the identifier's lockout (423), then credentials (401)." +
    COOKIE_MODE,
  request: { body: jsonBody(loginBody) },
  responses: {
    200: jsonResponse(SignInResponseSchema, "Signed in."),
    ...problems([
      ...BODY_ERRORS,
      "invalid_credentials",
      "email_not_verified",
      "mfa_required",
      "mfa_enrollment_required",
      "challenge_required",
      "account_locked",
      "rate_limited",
      "csrf_rejected",
    ]),
  },
});

authRoutes.openapi(
  login,
  // logIn makes the per-IP call itself: it carries the identifier for the spread signal.
  async (c) => {
    const body = c.req.valid("json");
    const signedIn = await logIn(c.var.deps, { ...body, device_token: body.device_token ?? deviceCookie(c) });
    return c.json(deliver(c, signedIn, c.var.deps.config.cookieDomain), 200);
  },
);

const mfa = createRoute({
  method: "post",
  path: "/mfa",
  tags,
  summary: "Complete a sign-in with its second step",
  description:
    "After a first factor answered `403 mfa_required`: the `mfa_token` and a proof of one of its `methods`. After `403 mfa_enrollment_required` and an enrolment made with that token: the same token and a proof from the new factor (a TOTP code of a later step than the confirming one, or a passkey assertion). The token is bound to the account, the first factor and its device token; it dies at the first success, at the fifth wrong answer (401 `invalid_code` each, then 401 `invalid_token`), after 5 minutes, and when the password, the factors or the sessions change. Wrong answers from clients that are not a known device of the account are limited per account (`mfa_account_hour`, `mfa_account_30_days`; recovery codes apart: `recovery_code_account_hour`, `recovery_code_account_30_days`), each known device has its own (`mfa_device_30_minutes`): 429 with `Retry-After` when spent, the token kept." +
    COOKIE_MODE,
  request: { body: jsonBody(mfaBody) },
  responses: {
    200: jsonResponse(SignInResponseSchema, "Signed in."),
    ...problems([...BODY_ERRORS, "invalid_token", "invalid_code", "rate_limited", "csrf_rejected"]),
  },
});

authRoutes.openapi(mfa, async (c) => {
  const { mfa_token, method, code, credential } = c.req.valid("json");
  const { deps } = c.var;
  const signedIn =
    method === "passkey"
      ? await completeSecondStepWithPasskey(deps, mfa_token, credential!, "api")
      : await completeSecondStep(deps, mfa_token, { method, code: code! }, "api");
  return c.json(deliver(c, signedIn, deps.config.cookieDomain), 200);
});

const mfaPasskeyOptions = createRoute({
  method: "post",
  path: "/mfa/passkey-options",
  tags,
  summary: "Request options for a passkey as the second step",
  description: "Names the account's passkeys; the challenge belongs to this `mfa_token` and works once, for 5 minutes.",
  request: { body: jsonBody(mfaTokenBody) },
  responses: {
    200: jsonResponse(RequestOptionsSchema, "Pass to `navigator.credentials.get()`."),
    ...problems([...BODY_ERRORS, "invalid_token"]),
  },
});

authRoutes.openapi(mfaPasskeyOptions, async (c) =>
  c.json(await secondStepPasskeyOptions(c.var.deps, c.req.valid("json").mfa_token, "api"), 200),
);

const passkeyOptions = createRoute({
  method: "post",
  path: "/passkey/options",
  tags,
  summary: "Request options for a passkey sign-in",
  description:
    "For discoverable credentials (`allowCredentials` empty), so also for autofill (conditional mediation). Stateless and not limited: the challenge is spent by the sign-in that uses it.",
  request: { body: { required: false, content: { "application/json": { schema: z.object({}) } } } },
  responses: { 200: jsonResponse(RequestOptionsSchema, "Pass to `navigator.credentials.get()`."), ...problems([]) },
});

authRoutes.openapi(passkeyOptions, async (c) => c.json(await passkeySignInOptions(c.var.deps), 200));

const passkeySignIn = createRoute({
  method: "post",
  path: "/passkey",
  tags,
  summary: "Sign in with a passkey",
  description:
    "The assertion (`PublicKeyCredential.toJSON()`). A passkey with user verification signs in alone (`amr` `hwk` or `swk`, and `mfa`). Every refusal (unknown credential, bad signature, wrong origin or RP ID, replayed or foreign challenge, no user verification, a counter that did not increase) is 401 `invalid_credentials`. Limited per client IP (`passkey_ip_minute`), never per credential." +
    COOKIE_MODE,
  request: { body: jsonBody(passkeySignInBody) },
  responses: {
    200: jsonResponse(SignInResponseSchema, "Signed in."),
    ...problems([...BODY_ERRORS, "invalid_credentials", "email_not_verified", "rate_limited", "csrf_rejected"]),
  },
});

authRoutes.openapi(passkeySignIn, async (c) => {
  const body = c.req.valid("json");
  const signedIn = await signInWithPasskey(c.var.deps, { ...body, device_token: body.device_token ?? deviceCookie(c) }, "api");
  return c.json(deliver(c, signedIn, c.var.deps.config.cookieDomain), 200);
});

const stepUpRoute = createRoute({
  method: "post",
  path: "/step-up",
  tags,
  summary: "Prove it is you again (fresh authentication)",
  description:
    "Refreshes the caller's own session: the same `sid`, a rotated refresh token, `auth_time` now and the `amr` of this proof; the access token it returns is fresh for 5 minutes (see fresh authentication). `password` spends the session's password budget (423 after 5 wrong ones, for good after 10), a code the session's own second-factor budget (`mfa_session_30_minutes`, `mfa_session_30_days`). For an account with a second factor only `totp`, `recovery_code` or `passkey` (after `POST /auth/step-up/passkey-options`) makes the session fresh." +
    COOKIE_MODE,
  security: security.accessToken,
  middleware: [requireAuth(), requireInteractiveSession()] as const,
  request: { body: jsonBody(stepUpBody) },
  responses: {
    200: jsonResponse(TokenResponseSchema, "The same session, freshly authenticated."),
    ...problems([
      ...BODY_ERRORS,
      ...AUTH_ERRORS,
      "insufficient_scope",
      "invalid_current_password",
      "invalid_code",
      "account_locked",
      "rate_limited",
      "csrf_rejected",
    ]),
  },
});

const stepUpPasskey = createRoute({
  method: "post",
  path: "/step-up/passkey-options",
  tags,
  summary: "Request options for a step-up with a passkey",
  description: "Names the account's passkeys; the challenge belongs to this session and works once, for 5 minutes.",
  security: security.accessToken,
  middleware: [requireAuth(), requireInteractiveSession()] as const,
  responses: {
    200: jsonResponse(RequestOptionsSchema, "Pass to `navigator.credentials.get()`."),
    ...problems([...AUTH_ERRORS, "insufficient_scope"]),
  },
});

authRoutes.openapi(stepUpPasskey, async (c) => c.json(await stepUpPasskeyOptions(c.var.deps, c.var.session), 200));

authRoutes.openapi(stepUpRoute, async (c) => {
  const tokens = await stepUp(c.var.deps, c.var.session, c.req.valid("json"));
  return c.json(deliver(c, tokens, c.var.deps.config.cookieDomain), 200);
});

const refresh = createRoute({
  method: "post",
  path: "/refresh",
  tags,
  summary: "Rotate a refresh token",
  description:
    "Answers a new token pair; the presented refresh token is retired. Presenting a retired one revokes the session. In cookie mode the body may be empty: the cookie is used, and cleared when the session is dead." +
    COOKIE_MODE,
  request: { body: jsonBody(refreshBody) },
  responses: {
    200: jsonResponse(TokenResponseSchema, "A new token pair."),
    ...problems([...BODY_ERRORS, "invalid_token", "refresh_token_reused", "rate_limited", "csrf_rejected"]),
  },
});

/**
 * The IP's count runs beside the rotation, so a far client pays one round trip (the primary's), not
 * the limiter's object first. A presentation that rotated a live session is answered with its tokens
 * even when the IP's budget is spent: refusing it then would leave the client holding a token that is
 * already retired. Every other presentation (unknown, dead, reused) gets the 429 once the budget is
 * spent, as before.
 */
authRoutes.openapi(refresh, async (c) => {
  const { deps } = c.var;
  const cookieMode = wantsCookies(c);
  const presented = c.req.valid("json").refresh_token ?? (cookieMode ? refreshCookie(c) : undefined);
  if (presented === undefined) {
    if (cookieMode) throw new AppError("invalid_token", { detail: "No session cookie: log in again." });
    throw new AppError("validation_failed", { errors: [{ field: "refresh_token", message: "Send the refresh token." }] });
  }
  const counted = enforceIpLimit(deps, "refresh").then(
    () => null,
    (refusal: unknown) => refusal,
  );
  let tokens;
  try {
    tokens = await refreshSession(deps, presented);
  } catch (error) {
    const refusal = await counted;
    // A dead or stolen session: the browser should not keep presenting its cookie.
    if (cookieMode && error instanceof AppError && error.status === 401) clearSessionCookies(c, deps.config.cookieDomain);
    throw refusal ?? error;
  }
  const refusal = await counted;
  if (refusal !== null && !(refusal instanceof AppError))
    log("warn", "refresh.ip_count_failed", { request_id: deps.meta.requestId, ...describeError(refusal) });
  return c.json(deliver(c, tokens, deps.config.cookieDomain), 200);
});

const logout = createRoute({
  method: "post",
  path: "/logout",
  tags,
  summary: "Log out",
  description:
    "Revokes the caller's session and access token, and the session of a presented refresh token if it is the caller's. `?scope=all` revokes every session. In cookie mode the refresh cookie counts as presented, and the cookies are cleared." +
    COOKIE_MODE,
  security: security.accessToken,
  // This session's logout reads nothing first: its one write checks the token's session (below).
  middleware: [sessionTokenOffline((c) => c.req.query("scope") === undefined)] as const,
  request: { query: logoutQuery, body: { required: false, content: { "application/json": { schema: logoutBody } } } },
  responses: { 204: noContent, ...problems([...BODY_ERRORS, ...AUTH_ERRORS, "insufficient_scope", "csrf_rejected"]) },
});

authRoutes.openapi(logout, async (c) => {
  const { deps, unchecked, session } = c.var;
  const refreshToken = c.req.valid("json").refresh_token ?? (wantsCookies(c) ? refreshCookie(c) : undefined);
  if (unchecked) {
    // One round trip: the revocation applies only while the session accepts the token, and a
    // refusal carries the code requireAuth() would have answered.
    const ended = await endSession(deps, { userId: unchecked.sub, sessionId: unchecked.sid }, refreshToken);
    if ("refusal" in ended) throw unauthorized(ended.refusal);
    // The caller, for the request's log line and bookmark.
    c.set("principal", sessionPrincipal(unchecked, ended.user, ended.session));
  } else if (session) {
    const everywhere = c.req.valid("query").scope === "all";
    await logOut(deps, { userId: session.user.id, sessionId: session.sessionId }, { refreshToken, everywhere });
  } else {
    throw unauthorized();
  }
  if (wantsCookies(c)) clearSessionCookies(c, deps.config.cookieDomain);
  return c.body(null, 204);
});

const forgotPassword = createRoute({
  method: "post",
  path: "/forgot-password",
  tags,
  summary: "Mail a password-reset link",
  description: "Answers the same bytes whether or not the address has an account.",
  request: { body: jsonBody(emailBody) },
  responses: { 202: jsonResponse(MessageSchema, "Accepted."), ...problems([...BODY_ERRORS, "rate_limited"]) },
});

authRoutes.openapi(
  forgotPassword,
  limitPerIp("forgot_password", forgotPassword, async (c) => {
    const { email, device_token } = c.req.valid("json");
    await requestPasswordReset(c.var.deps, email, device_token ?? deviceCookie(c));
    return c.json(RESET_REQUESTED, 202);
  }),
);

const resetPasswordRoute = createRoute({
  method: "post",
  path: "/reset-password",
  tags,
  summary: "Set a new password with a mailed token",
  description: "Signs every session out; no tokens are returned, the user logs in afresh.",
  request: { body: jsonBody(resetPasswordBody) },
  responses: {
    200: jsonResponse(MessageSchema, "Password reset."),
    ...problems([...BODY_ERRORS, "invalid_token", "weak_password", "rate_limited"], { invalid_token: 400 }),
  },
});

authRoutes.openapi(
  resetPasswordRoute,
  limitPerIp("reset_password", resetPasswordRoute, async (c) => {
    await resetPassword(c.var.deps, c.req.valid("json"));
    return c.json(PASSWORD_RESET, 200);
  }),
);

const verified = jsonResponse(MessageSchema, "The address is verified, or the email change is done.");
const verifyEmailErrors = ["invalid_token", "password_required", "email_taken", "rate_limited"] as const;
const verifyDescription =
  "Registration links also need proof of the account's password: `password`, a bearer access token of the same account, or `new_password` (which replaces it and ends every session and API key). Without one: 400 `password_required`, and the link stays usable. Email-change links need only the token; the change completes only once the revert link to the old address was admitted and handed to the mail transport (otherwise 429 `rate_limited` or 503 `service_unavailable`, and the link stays usable).";

const verifyEmailGet = createRoute({
  method: "get",
  path: "/verify-email",
  tags,
  summary: "Confirm a mailed address link",
  description: `As the POST without a password: registration links answer 400 \`password_required\`. ${verifyDescription}`,
  request: { query: tokenBody },
  responses: { 200: verified, ...problems(["validation_failed", ...verifyEmailErrors], { invalid_token: 400 }) },
});

authRoutes.openapi(
  verifyEmailGet,
  limitPerIp("verify_email", verifyEmailGet, async (c) =>
    c.json(CONFIRMED[await confirmEmailToken(c.var.deps, c.req.valid("query").token, {})], 200),
  ),
);

const verifyEmailPost = createRoute({
  method: "post",
  path: "/verify-email",
  tags,
  summary: "Confirm a mailed address link",
  description: verifyDescription,
  security: [{}, ...security.accessToken],
  middleware: [optionalAuth()] as const,
  request: { body: jsonBody(verifyEmailBody) },
  responses: {
    200: verified,
    ...problems([...BODY_ERRORS, ...verifyEmailErrors, "invalid_credentials", "weak_password", "account_locked"], {
      invalid_token: 400,
    }),
  },
});

authRoutes.openapi(
  verifyEmailPost,
  limitPerIp("verify_email", verifyEmailPost, async (c) =>
    c.json(CONFIRMED[await confirmEmailToken(c.var.deps, c.req.valid("json").token, proofOf(c.var.principal, c.req.valid("json")))], 200),
  ),
);

const resend = createRoute({
  method: "post",
  path: "/resend-verification",
  tags,
  summary: "Mail a new verification link",
  description: "Answers the same bytes for every address.",
  request: { body: jsonBody(emailBody) },
  responses: { 202: jsonResponse(MessageSchema, "Accepted."), ...problems([...BODY_ERRORS, "rate_limited"]) },
});

authRoutes.openapi(
  resend,
  limitPerIp("resend_verification", resend, async (c) => {
    const { email, device_token } = c.req.valid("json");
    await resendVerification(c.var.deps, email, device_token ?? deviceCookie(c));
    return c.json(VERIFICATION_RESENT, 202);
  }),
);

/** What the confirmer of a registration link offers as proof of the password. */
function proofOf(principal: Principal | undefined, body: { password?: string | undefined; new_password?: string | undefined }) {
  return {
    password: body.password,
    newPassword: body.new_password,
    callerUserId: principal?.kind === "access_token" ? principal.user.id : undefined,
  };
}

const revertEmailChangeRoute = createRoute({
  method: "post",
  path: "/revert-email-change",
  tags,
  summary: "Undo an email change (link mailed to the old address)",
  description:
    "Restores the old address, revokes every session and API key, voids every mailed link, disables the current password and mails a reset link to the restored address.",
  request: { body: jsonBody(tokenBody) },
  responses: {
    200: jsonResponse(MessageSchema, "Restored."),
    ...problems([...BODY_ERRORS, "invalid_token", "email_taken", "rate_limited"], { invalid_token: 400 }),
  },
});

authRoutes.openapi(
  revertEmailChangeRoute,
  limitPerIp("verify_email", revertEmailChangeRoute, async (c) => {
    await revertEmailChange(c.var.deps, c.req.valid("json").token);
    return c.json(REVERTED, 200);
  }),
);

const revertSignInRoute = createRoute({
  method: "post",
  path: "/revert-sign-in",
  tags,
  summary: "Secure the account after a sign-in its owner did not make (link in a new-sign-in notice)",
  description:
    "Revokes every session, device and API key, voids outstanding mailed links, disables the current password and mails a reset link to the account's address.",
  request: { body: jsonBody(tokenBody) },
  responses: {
    200: jsonResponse(MessageSchema, "Secured."),
    ...problems([...BODY_ERRORS, "invalid_token", "rate_limited"], { invalid_token: 400 }),
  },
});

authRoutes.openapi(
  revertSignInRoute,
  limitPerIp("verify_email", revertSignInRoute, async (c) => {
    await revertSignIn(c.var.deps, c.req.valid("json").token);
    return c.json(SECURED, 200);
  }),
);
