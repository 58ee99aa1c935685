import { Hono } from "hono";
import type { AppEnv } from "../context";
import { AppError } from "../errors";
import { validate } from "../middleware/validate";
import { enforceIpLimit, guardPasswordCheck } from "../services/abuse";
import { checkCredentials, completeLogin, registerUser } from "../services/accounts";
import { recordAudit } from "../services/audit";
import { loginBody, registerBody } from "./schemas";

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
  const identifier = body.email !== undefined ? { email: body.email } : { username: body.username ?? "" };
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
