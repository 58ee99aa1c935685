import { passAttackChallenge } from "../abuse/challenge";
import {
  accountObjectName,
  admitLoginFromIp,
  DeviceBudgetSpent,
  guardPasswordCheck,
  settleRefusedLogin,
  type Guesser,
} from "../abuse/limits";
import { countLoginFailure, underAttack } from "../abuse/spraying";
import { deviceTokenFor, recognizeDevice, voidDevice } from "../devices/devices";
import { afterSuccessfulLogin } from "../devices/sign-in-signals";
import { recordAudit } from "../audit/audit";
import type { User } from "../db/schema";
import { findUserByIdentifier, identifierOf, updateUser } from "../db/users";
import type { Deps } from "../deps";
import { AppError } from "../errors";
import { describeError, log } from "../log";
import { startSession, type TokenResponse } from "../sessions/sessions";
import { burnPasswordCheck, hashPassword, passwordParams, verifyPassword } from "./passwords";

/** Password login. */

export interface LoginInput {
  email?: string | undefined;
  username?: string | undefined;
  password: string;
  /** The device token this client got at an earlier sign-in, if any. */
  device_token?: string | undefined;
  /** The Turnstile answer, needed only from unknown devices while sign-ins are under attack. */
  turnstile_token?: string | undefined;
  /** Set by the hosted login page when its form came without the widget's answer (no script ran). */
  noScript?: boolean | undefined;
}

/** A successful login: the token pair and this client's device token. */
export type LoginResult = TokenResponse & { device_token: string };

type LoginFailure = "unknown_account" | "bad_password" | "inactive";

/**
 * `POST /auth/login`, starting with the per-IP limit. The password check is one guess (see
 * abuse/limits.ts): a stranger's counts against the named identifier (lockout 423 and per-address
 * 429 before it runs), a known device's only against that device, so precedence is API.md's:
 * per-IP 429, then lockout 423, then credentials 401. While sign-ins are under a spraying attack,
 * an unknown device passes the challenge (abuse/challenge.ts) between the first two. A device that
 * spent its budget is void and the client continues as a stranger. Every failure answers the same
 * `invalid_credentials`; its reason is kept in the audit row.
 */
export async function logIn(deps: Deps, input: LoginInput): Promise<LoginResult> {
  const identifier = identifierOf(input);
  // The per-IP limits (429 first) and the "failing across many identifiers" signal, in one call;
  // the attack mode alongside it (usually from the isolate's cache).
  const [fromIp, attacked] = await Promise.all([admitLoginFromIp(deps, identifier), underAttack(deps)]);
  const user = await findUserByIdentifier(deps.db, identifier);
  let device = await recognizeDevice(deps, user, input.device_token);
  if (attacked && !device && deps.config.attack.sprayAction === "challenge") {
    try {
      await passAttackChallenge(deps, { token: input.turnstile_token, noScript: input.noScript });
    } catch (error) {
      await settleRefusedLogin(deps, fromIp);
      throw error;
    }
  }
  const attempt = (guesser: Guesser) =>
    guardPasswordCheck(
      deps,
      identifier,
      async () => {
        const result = await checkCredentials(deps, user, input.password);
        return { success: !("failure" in result), userId: user?.id ?? null, result };
      },
      guesser,
      fromIp,
    );
  let outcome;
  try {
    outcome = await attempt(device ? { kind: "device", id: device.id } : { kind: "stranger" });
  } catch (error) {
    if (!(error instanceof DeviceBudgetSpent) || !device) throw error;
    await voidDevice(deps, device);
    device = null;
    outcome = await attempt({ kind: "stranger" });
  }
  const { result } = outcome;
  if ("failure" in result) {
    countLoginFailure(deps, accountObjectName(identifier));
    await recordAudit(deps, {
      action: "login.failed",
      userId: user?.id ?? null,
      metadata: { reason: result.failure, identifier: "email" in identifier ? "email" : "username", known_device: device !== null },
    });
    throw new AppError("invalid_credentials");
  }
  const tokens = await completeLogin(deps, result.user);
  const deviceToken = await deviceTokenFor(deps, result.user, device);
  // New device, travel, hour and breach signals: all after the response (devices/sign-in-signals.ts).
  afterSuccessfulLogin(deps, { user: result.user, newDevice: device === null, password: input.password });
  return { ...tokens, device_token: deviceToken };
}

/** Checks the password. An unknown account still costs one hash, so timing tells nothing. */
async function checkCredentials(
  deps: Deps,
  user: User | undefined,
  password: string,
): Promise<{ user: User } | { failure: LoginFailure; user?: User }> {
  if (!user) {
    await burnPasswordCheck(password, passwordParams(deps));
    return { failure: "unknown_account" };
  }
  const { valid, needsRehash } = await verifyPassword(password, user.passwordHash, passwordParams(deps));
  if (!valid) return { failure: "bad_password", user };
  if (!user.isActive) return { failure: "inactive", user };
  if (needsRehash) {
    // Upgrade imported bcrypt hashes and outdated PBKDF2 parameters while the password is at hand.
    // Best effort: a failed write must not turn a correct password into a distinguishable error.
    const passwordHash = await hashPassword(password, passwordParams(deps));
    await updateUser(deps.db, user.id, { passwordHash }).catch((error: unknown) => {
      log("warn", "password.rehash_failed", { user_id: user.id, ...describeError(error) });
    });
  }
  return { user };
}

/** A correct password: verification gate, last-login time, session and tokens. */
async function completeLogin(deps: Deps, user: User): Promise<TokenResponse> {
  if (deps.config.requireEmailVerification && !user.emailVerified) {
    // A refused login is a failed login: it gets its audit row like a wrong password does.
    await recordAudit(deps, { action: "login.failed", userId: user.id, metadata: { reason: "email_not_verified" } });
    throw new AppError("email_not_verified");
  }
  const updated = (await updateUser(deps.db, user.id, { lastLoginAt: deps.now() })) ?? user;
  const tokens = await startSession(deps, updated);
  await recordAudit(deps, { action: "login.succeeded", userId: user.id, resource: `user:${user.id}` });
  return tokens;
}
