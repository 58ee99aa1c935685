import { Hono } from "hono";
import type { AppEnv } from "../context";
import { identifierOf } from "../../db/users";
import { AppError } from "../../errors";
import { requireAuth, requireInteractiveSession } from "../middleware/require-auth";
import { validate } from "../middleware/validate";
import { enforceAccountLimit, enforceIpLimit, guardPasswordCheck } from "../../abuse/limits";
import { checkCredentials, completeLogin, registerUser } from "../../accounts/registration";
import { recordAudit } from "../../audit/audit";
import { revokeAccessToken } from "../../sessions/revocation";
import { findOwnSessionByRefreshToken, refreshSession, revokeAllSessions, revokeSessions } from "../../sessions/sessions";
import { confirmEmailToken, resendVerification } from "../../recovery/email-verification";
import { requestPasswordReset, resetPassword } from "../../recovery/password-reset";
import { emailBody, loginBody, logoutBody, logoutQuery, refreshBody, registerBody, resetPasswordBody, tokenBody } from "./schemas";

/** `/api/v1/auth`: registration, login, token refresh, logout, recovery and verification. */
export const authRoutes = new Hono<AppEnv>();

const ACCEPTED_REGISTRATION = {
  message: "Check your inbox: we sent a link to confirm your email address.",
};

authRoutes.post("/register", validate("json", registerBody), async (c) => {
  await enforceIpLimit(c.var.deps, c.var.meta, "register");
  const result = await registerUser(c.var.deps, c.req.valid("json"), c.var.meta);
  if (result.kind === "accepted") return c.json(ACCEPTED_REGISTRATION, 202);
  return c.json(result.tokens, 201);
});

// Precedence (API.md): per-IP limit (429), then the identifier's lockout (423), then credentials (401).
authRoutes.post("/login", validate("json", loginBody), async (c) => {
  const { deps, meta } = c.var;
  const body = c.req.valid("json");
  await enforceIpLimit(deps, meta, "login");
  const identifier = identifierOf(body);
  const { result } = await guardPasswordCheck(deps, meta, identifier, async () => {
    const result = await checkCredentials(deps, body);
    return { success: !("failure" in result), userId: result.user?.id ?? null, result };
  });
  if ("failure" in result) {
    await recordAudit(deps, meta, {
      action: "login.failed",
      userId: result.user?.id ?? null,
      metadata: { reason: result.failure, identifier: body.email ? "email" : "username" },
    });
    throw new AppError("invalid_credentials");
  }
  return c.json(await completeLogin(deps, result.user, meta), 200);
});

authRoutes.post("/refresh", validate("json", refreshBody), async (c) => {
  await enforceIpLimit(c.var.deps, c.var.meta, "refresh");
  const tokens = await refreshSession(c.var.deps, c.req.valid("json").refresh_token, c.var.meta);
  return c.json(tokens, 200);
});

/**
 * Revokes the caller's session (and the session of a presented refresh token, if it is the
 * caller's) and blacklists the presented access token; `?scope=all` revokes every session.
 */
authRoutes.post(
  "/logout",
  requireAuth(),
  requireInteractiveSession(),
  validate("query", logoutQuery),
  validate("json", logoutBody),
  async (c) => {
    const { deps, meta, principal } = c.var;
    const { user, sessionId, token } = principal;
    if (token) await revokeAccessToken(deps, token);
    if (c.req.valid("query").scope === "all") {
      const revoked = await revokeAllSessions(deps, user.id, "logout_all");
      await recordAudit(deps, meta, { action: "logout.all", userId: user.id, metadata: { sessions_revoked: revoked.length } });
      return c.body(null, 204);
    }
    const ids = new Set(sessionId ? [sessionId] : []);
    const { refresh_token } = c.req.valid("json");
    const other = refresh_token ? await findOwnSessionByRefreshToken(deps, user.id, refresh_token) : undefined;
    if (other) ids.add(other.id);
    await revokeSessions(deps, user.id, [...ids], "logout");
    await recordAudit(deps, meta, { action: "logout", userId: user.id, resource: `session:${sessionId}` });
    return c.body(null, 204);
  },
);
/** Constant answers: identical bytes whether or not the address has an account. */
const RESET_REQUESTED = { message: "If an account exists for this address, we sent it a link to reset the password." };
const VERIFICATION_RESENT = { message: "If this address has an account waiting for verification, we sent it a new link." };

authRoutes.post("/forgot-password", validate("json", emailBody), async (c) => {
  const { email } = c.req.valid("json");
  await enforceIpLimit(c.var.deps, c.var.meta, "forgot_password");
  await enforceAccountLimit(c.var.deps, c.var.meta, "forgot_password", { email });
  requestPasswordReset(c.var.deps, email, c.var.meta);
  return c.json(RESET_REQUESTED, 202);
});

authRoutes.post("/reset-password", validate("json", resetPasswordBody), async (c) => {
  await enforceIpLimit(c.var.deps, c.var.meta, "reset_password");
  await resetPassword(c.var.deps, c.req.valid("json"), c.var.meta);
  return c.json({ message: "Your password was reset and every session was signed out. Log in with the new password." }, 200);
});

const CONFIRMED = {
  verified: { message: "Your email address is verified." },
  changed: { message: "Your email address was changed." },
} as const;

authRoutes.get("/verify-email", validate("query", tokenBody), async (c) => {
  await enforceIpLimit(c.var.deps, c.var.meta, "verify_email");
  const outcome = await confirmEmailToken(c.var.deps, c.req.valid("query").token, c.var.meta);
  return c.json(CONFIRMED[outcome], 200);
});

authRoutes.post("/verify-email", validate("json", tokenBody), async (c) => {
  await enforceIpLimit(c.var.deps, c.var.meta, "verify_email");
  const outcome = await confirmEmailToken(c.var.deps, c.req.valid("json").token, c.var.meta);
  return c.json(CONFIRMED[outcome], 200);
});

authRoutes.post("/resend-verification", validate("json", emailBody), async (c) => {
  const { email } = c.req.valid("json");
  await enforceIpLimit(c.var.deps, c.var.meta, "resend_verification");
  await enforceAccountLimit(c.var.deps, c.var.meta, "resend_verification", { email });
  resendVerification(c.var.deps, email, c.var.meta);
  return c.json(VERIFICATION_RESENT, 202);
});
