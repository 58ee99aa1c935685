import { z } from "zod";

/**
 * Every abuse limit in one table: what is counted, per what key, and the defaults. The numbers can
 * be overridden with the `RATE_LIMITS` variable (a JSON object, parsed by {@link parseRateLimits}
 * from the abuse section, abuse.ts); which limit guards which endpoint is decided here and nowhere
 * else. It is configuration, not abuse code: the limiter (src/abuse/) counts whatever this says.
 */

/** At most `limit` admitted requests in any sliding window of `window` seconds. */
export interface LimitPolicy {
  /** Policy identifier, also sent in the `RateLimit` / `RateLimit-Policy` headers. */
  name: string;
  limit: number;
  window: number;
}

/** Consecutive-failure lockout of one login identifier (email or username). */
export interface LockoutPolicy {
  /** Failures after which the identifier is locked for `softLockSeconds`. */
  softAfter: number;
  softLockSeconds: number;
  /** Failures after which it stays locked until a password reset or an administrator unlocks it. */
  hardAfter: number;
  /** A failure count with no new failure for this long (and no hard lock) is forgotten. */
  forgetAfterSeconds: number;
}

const DEFAULT_LIMITS = {
  login_ip_minute: { limit: 5, window: 60 },
  login_ip_hour: { limit: 20, window: 3600 },
  register_ip_hour: { limit: 10, window: 3600 },
  refresh_ip_minute: { limit: 60, window: 60 },
  forgot_password_ip_hour: { limit: 10, window: 3600 },
  resend_verification_ip_hour: { limit: 10, window: 3600 },
  reset_password_ip_minute: { limit: 10, window: 60 },
  verify_email_ip_minute: { limit: 10, window: 60 },
  login_account_hour: { limit: 10, window: 3600 },
  forgot_password_account_hour: { limit: 3, window: 3600 },
  resend_verification_account_hour: { limit: 3, window: 3600 },
  forgot_password_device_hour: { limit: 3, window: 3600 },
  resend_verification_device_hour: { limit: 3, window: 3600 },
  username_change_user_day: { limit: 5, window: 86_400 },
  username_change_ip_day: { limit: 20, window: 86_400 },
  api_key_create_user_hour: { limit: 10, window: 3600 },
  api_key_new_ip_day: { limit: 20, window: 86_400 },
  email_change_user_hour: { limit: 3, window: 3600 },
  email_change_user_day: { limit: 10, window: 86_400 },
  email_change_address_hour: { limit: 3, window: 3600 },
  email_change_address_day: { limit: 10, window: 86_400 },
  email_change_address_5_minutes: { limit: 1, window: 300 },
  mail_stranger_mailbox_hour: { limit: 6, window: 3600 },
  mail_device_mailbox_hour: { limit: 10, window: 3600 },
  mail_account_mailbox_hour: { limit: 20, window: 3600 },
  mail_unsolicited_mailbox_hour: { limit: 5, window: 3600 },
  mail_unsolicited_mailbox_day: { limit: 20, window: 86_400 },
  mail_unsolicited_user_hour: { limit: 5, window: 3600 },
  mail_unsolicited_user_day: { limit: 20, window: 86_400 },
  registration_attempt_mailbox_day: { limit: 1, window: 86_400 },
  login_failures_ip_identifiers_hour: { limit: 20, window: 3600 },
  login_ip_under_attack_hour: { limit: 3, window: 3600 },
  profile_update_user_hour: { limit: 30, window: 3600 },
  mfa_account_hour: { limit: 10, window: 3600 },
  mfa_account_30_days: { limit: 100, window: 30 * 86_400 },
  recovery_code_account_hour: { limit: 10, window: 3600 },
  recovery_code_account_30_days: { limit: 100, window: 30 * 86_400 },
  mfa_device_30_minutes: { limit: 5, window: 1800 },
  mfa_session_30_minutes: { limit: 5, window: 1800 },
  mfa_session_30_days: { limit: 20, window: 30 * 86_400 },
  mfa_notice_user_day: { limit: 1, window: 86_400 },
  mfa_enrolment_code_user_day: { limit: 10, window: 86_400 },
  email_code_ip_hour: { limit: 10, window: 3600 },
  email_code_verify_ip_minute: { limit: 10, window: 60 },
  email_code_address_day: { limit: 20, window: 86_400 },
  email_code_address_30_days: { limit: 100, window: 30 * 86_400 },
  email_code_notice_address_day: { limit: 1, window: 86_400 },
  passkey_ip_minute: { limit: 10, window: 60 },
  oauth_register_ip_hour: { limit: 10, window: 3600 },
} as const satisfies Record<string, { limit: number; window: number }>;

type LimitName = keyof typeof DEFAULT_LIMITS;

/** How long one client failing across many identifiers is blocked (`login_failures_ip_block`). */
const DEFAULT_SPREAD_BLOCK_SECONDS = 3600;

/**
 * IP actions that the "one client failing across many identifiers" block refuses: login,
 * registration and recovery. A login also feeds the signal (see src/abuse/ip-limits.ts).
 */
const SPREAD_BLOCKED_ACTIONS = new Set<string>([
  "login",
  "register",
  "forgot_password",
  "reset_password",
  "resend_verification",
  "verify_email",
]);

/** Whether a running spread block refuses this IP action. */
export function spreadBlocks(action: string): boolean {
  return SPREAD_BLOCKED_ACTIONS.has(action);
}

const DEFAULT_LOCKOUT: LockoutPolicy = { softAfter: 5, softLockSeconds: 1800, hardAfter: 10, forgetAfterSeconds: 86_400 };

/** Actions counted per client IP (one Durable Object per IP), and the limits each must pass. */
const IP_ACTIONS = {
  login: ["login_ip_minute", "login_ip_hour"],
  // Under a password-spraying attack, a login from an unknown device without a solved challenge.
  login_under_attack: ["login_ip_under_attack_hour"],
  register: ["register_ip_hour"],
  refresh: ["refresh_ip_minute"],
  forgot_password: ["forgot_password_ip_hour"],
  resend_verification: ["resend_verification_ip_hour"],
  reset_password: ["reset_password_ip_minute"],
  verify_email: ["verify_email_ip_minute"],
  username_change: ["username_change_ip_day"],
  // Passkey sign-ins (their options and assertions): never per credential, whose id is not secret.
  passkey: ["passkey_ip_minute"],
  // Sign-in codes mailed, and their answers.
  email_code: ["email_code_ip_hour"],
  email_code_verify: ["email_code_verify_ip_minute"],
  // OAuth clients registering themselves (RFC 7591).
  oauth_register: ["oauth_register_ip_hour"],
} as const satisfies Record<string, readonly LimitName[]>;

/** Actions counted per signed-in user (one Durable Object per user id, `user:<id>`). */
const USER_ACTIONS = {
  username_change: ["username_change_user_day"],
  api_key_create: ["api_key_create_user_hour"],
  email_change: ["email_change_user_hour", "email_change_user_day"],
  // A `PUT /users/me` that changes something: each writes D1, an audit row, an event and a webhook POST.
  profile_update: ["profile_update_user_hour"],
} as const satisfies Record<string, readonly LimitName[]>;

/**
 * Actions counted per target address (the mailbox's object, `mailbox:<address>`), whoever asks:
 * an address that is not the requester's own can be named by any account holder.
 */
const ADDRESS_ACTIONS = {
  email_change: ["email_change_address_hour", "email_change_address_day", "email_change_address_5_minutes"],
} as const satisfies Record<string, readonly LimitName[]>;

/**
 * Budgets of what Gatehouse does by itself after a request, never refused to a client: mail to one
 * mailbox by who triggers it (`mailbox:<address>`, one budget per class so no class can spend
 * another's; see src/mail/mail.ts), unsolicited mail per requesting account (`user:<id>`), and
 * new-IP records of one API key (`api_key:<id>`).
 */
const BUDGETS = {
  mail_stranger: ["mail_stranger_mailbox_hour"],
  mail_device: ["mail_device_mailbox_hour"],
  mail_account: ["mail_account_mailbox_hour"],
  mail_unsolicited: ["mail_unsolicited_mailbox_hour", "mail_unsolicited_mailbox_day"],
  mail_unsolicited_requester: ["mail_unsolicited_user_hour", "mail_unsolicited_user_day"],
  registration_attempt_mail: ["registration_attempt_mailbox_day"],
  api_key_new_ip: ["api_key_new_ip_day"],
} as const satisfies Record<string, readonly LimitName[]>;

/**
 * The budget of a known device (device token): its failures count only against itself; after
 * `softAfter` it is refused for `softLockSeconds` (its token is then void and the client is a
 * stranger again). There is no hard tier: a device that fails goes back to being a stranger.
 */
export const TRUSTED_LOCKOUT: LockoutPolicy = { softAfter: 5, softLockSeconds: 1800, hardAfter: 1_000_000, forgetAfterSeconds: 1800 };

/**
 * The budget of a signed-in session re-entering its account's current password (password change,
 * email change, deletion, API-key creation; step-up with a password is to spend it too). Its
 * failures count only against the session (`session:<id>`), so strangers' locks never stop the
 * owner: after 5 the session's checks are refused for 30 minutes, after 10 in all for good (423
 * `account_locked`, no `Retry-After`). The count is forgotten only after a whole session lifetime
 * without a failure ({@link sessionLockout}), so it outlives the session: refreshing, waiting or
 * signing out does not reset it, and only a new sign-in (a new session) starts afresh. A correct
 * password clears a count short of the hard tier, as everywhere: whoever knows it has nothing to
 * guess. Known devices keep {@link TRUSTED_LOCKOUT}.
 */
const SESSION_LOCKOUT = { softAfter: 5, softLockSeconds: 1800, hardAfter: 10 } as const;

/** {@link SESSION_LOCKOUT} for sessions that live at most `sessionLifetimeSeconds` (REFRESH_TOKEN_TTL_SECONDS). */
export function sessionLockout(sessionLifetimeSeconds: number): LockoutPolicy {
  return { ...SESSION_LOCKOUT, forgetAfterSeconds: sessionLifetimeSeconds };
}

/** Actions a known device does with its own budget instead of the address's (see ACCOUNT_ACTIONS). */
const DEVICE_ACTIONS = {
  forgot_password: ["forgot_password_device_hour"],
  resend_verification: ["resend_verification_device_hour"],
} as const satisfies Record<string, readonly LimitName[]>;

/** Actions counted per account identifier (one Durable Object per normalized email or username). */
const ACCOUNT_ACTIONS = {
  login: ["login_account_hour"],
  forgot_password: ["forgot_password_account_hour"],
  resend_verification: ["resend_verification_account_hour"],
} as const satisfies Record<string, readonly LimitName[]>;

/**
 * Wrong second-factor answers, counted in the account's object (`user:<id>`) by who answers, so no
 * one can spend another's: clients that are not a known device of the account (a stranger holding
 * the password) share `stranger` for codes and `stranger_recovery` for recovery codes (so guessing
 * codes never blocks the owner's recovery code); each known device has its own (`device`), as each
 * signed-in session has for step-up and enrolment (`session`). `notice`: at most one "someone has
 * your password" mail a day. Password failures are counted elsewhere (the lockout): neither spends
 * the other.
 */
const SECOND_FACTOR_BUDGETS = {
  stranger: ["mfa_account_hour", "mfa_account_30_days"],
  stranger_recovery: ["recovery_code_account_hour", "recovery_code_account_30_days"],
  device: ["mfa_device_30_minutes"],
  session: ["mfa_session_30_minutes", "mfa_session_30_days"],
  notice: ["mfa_notice_user_day"],
  /** Codes mailed for the first enrolment after an administrator's reset: each is five more guesses. */
  enrolment_code: ["mfa_enrolment_code_user_day"],
  /** Wrong sign-in codes per address from clients that are not a known device of its account. */
  email_code_stranger: ["email_code_address_day", "email_code_address_30_days"],
  /** "Someone is guessing your sign-in codes" notices. */
  email_code_notice: ["email_code_notice_address_day"],
} as const satisfies Record<string, readonly LimitName[]>;

export type SecondFactorBudget = keyof typeof SECOND_FACTOR_BUDGETS;

export type IpAction = keyof typeof IP_ACTIONS;
export type AccountAction = keyof typeof ACCOUNT_ACTIONS;
export type UserAction = keyof typeof USER_ACTIONS;
export type AddressAction = keyof typeof ADDRESS_ACTIONS;
export type Budget = keyof typeof BUDGETS;

/** The password-spraying detection's numbers (`RATE_LIMITS.spraying`; src/abuse/objects/attack-monitor.ts). */
export interface SprayPolicy {
  /** Failed logins a minute that enter the mode, at least (or `baselineFactor` × the baseline). */
  minimumPerMinute: number;
  baselineFactor: number;
  /** The mode ends once the average rate over this many minutes is below the exit threshold. */
  quietMinutes: number;
  /** Distinct client networks (IPv4 /24, IPv6 /48, with the ASN when known) failing in the minute, to enter. */
  minimumNetworks: number;
  /** Distinct identifiers failing in the minute, to enter. */
  minimumIdentifiers: number;
  /** The mode ends this long after the entry condition last held, whatever the rate. */
  maxMinutes: number;
}

/** The resolved limits: defaults with the `RATE_LIMITS` overrides applied. */
export interface RateLimitSettings {
  limits: Record<LimitName, { limit: number; window: number }>;
  lockout: LockoutPolicy;
  /** Seconds a client failing across `login_failures_ip_identifiers_hour` identifiers is blocked. */
  spreadBlockSeconds: number;
  /** Password-spraying detection across clients (src/abuse/objects/attack-monitor.ts). */
  spraying: SprayPolicy;
}

const DEFAULT_SPRAYING: SprayPolicy = {
  minimumPerMinute: 60,
  baselineFactor: 5,
  quietMinutes: 10,
  minimumNetworks: 20,
  minimumIdentifiers: 30,
  maxMinutes: 60,
};

const count = z.number().int().min(1).max(1_000_000);
const windowSeconds = z
  .number()
  .int()
  .min(1)
  .max(30 * 86_400);
const limitOverride = z.strictObject({ limit: count, window: windowSeconds });

const overridesSchema = z.strictObject({
  ...(Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((name) => [name, limitOverride.optional()])) as Record<
    LimitName,
    z.ZodOptional<typeof limitOverride>
  >),
  lockout: z
    .strictObject({
      soft_after: count.optional(),
      soft_lock_seconds: windowSeconds.optional(),
      hard_after: count.optional(),
      forget_after_seconds: windowSeconds.optional(),
    })
    .optional(),
  login_failures_ip_block: z.strictObject({ seconds: windowSeconds }).optional(),
  spraying: z
    .strictObject({
      minimum_per_minute: count.optional(),
      baseline_factor: z.number().min(1.5).max(1000).optional(),
      quiet_minutes: z.number().int().min(1).max(1440).optional(),
      minimum_networks: count.optional(),
      minimum_identifiers: count.optional(),
      max_minutes: z.number().int().min(1).max(1440).optional(),
    })
    .optional(),
});

/**
 * Parses `RATE_LIMITS`, e.g. `{"login_ip_minute":{"limit":10,"window":60},"lockout":{"soft_after":3}}`.
 * Unknown names and bad numbers throw, so a typo fails the deploy loudly instead of silently
 * keeping a default.
 */
export function parseRateLimits(raw: string | undefined): RateLimitSettings {
  let json: unknown = {};
  if (raw !== undefined && raw.trim() !== "") {
    try {
      json = JSON.parse(raw);
    } catch {
      throw new Error("RATE_LIMITS is not valid JSON");
    }
  }
  if (typeof json === "object" && json !== null && "mailbox_hour" in json) {
    // One budget shared by every mail let anyone silence a mailbox; the classes replaced it.
    throw new Error("RATE_LIMITS: mailbox_hour was replaced by the mail class budgets (mail_stranger_mailbox_hour, …)");
  }
  const parsed = overridesSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`RATE_LIMITS: ${parsed.error.issues.map((i) => i.path.join(".") || i.message).join(", ")}`);
  }
  const { lockout: lockoutOverride, login_failures_ip_block: spreadBlock, spraying, ...limitOverrides } = parsed.data;
  const limits = { ...DEFAULT_LIMITS } as RateLimitSettings["limits"];
  for (const [name, value] of Object.entries(limitOverrides)) {
    if (value) limits[name as LimitName] = value;
  }
  const lockout: LockoutPolicy = {
    softAfter: lockoutOverride?.soft_after ?? DEFAULT_LOCKOUT.softAfter,
    softLockSeconds: lockoutOverride?.soft_lock_seconds ?? DEFAULT_LOCKOUT.softLockSeconds,
    hardAfter: lockoutOverride?.hard_after ?? DEFAULT_LOCKOUT.hardAfter,
    forgetAfterSeconds: lockoutOverride?.forget_after_seconds ?? DEFAULT_LOCKOUT.forgetAfterSeconds,
  };
  if (lockout.hardAfter <= lockout.softAfter) throw new Error("RATE_LIMITS: lockout.hard_after must exceed lockout.soft_after");
  return {
    limits,
    lockout,
    spreadBlockSeconds: spreadBlock?.seconds ?? DEFAULT_SPREAD_BLOCK_SECONDS,
    spraying: {
      minimumPerMinute: spraying?.minimum_per_minute ?? DEFAULT_SPRAYING.minimumPerMinute,
      baselineFactor: spraying?.baseline_factor ?? DEFAULT_SPRAYING.baselineFactor,
      quietMinutes: spraying?.quiet_minutes ?? DEFAULT_SPRAYING.quietMinutes,
      minimumNetworks: spraying?.minimum_networks ?? DEFAULT_SPRAYING.minimumNetworks,
      minimumIdentifiers: spraying?.minimum_identifiers ?? DEFAULT_SPRAYING.minimumIdentifiers,
      maxMinutes: spraying?.max_minutes ?? DEFAULT_SPRAYING.maxMinutes,
    },
  };
}

/** The limits an IP-scoped action must pass. */
export function ipPolicies(settings: RateLimitSettings, action: IpAction): LimitPolicy[] {
  return IP_ACTIONS[action].map((name) => ({ name, ...settings.limits[name] }));
}

/** The limits an account-scoped action must pass. */
export function accountPolicies(settings: RateLimitSettings, action: AccountAction): LimitPolicy[] {
  return ACCOUNT_ACTIONS[action].map((name) => ({ name, ...settings.limits[name] }));
}

/** The limits a known device's own budget applies to an account-scoped action. */
export function devicePolicies(settings: RateLimitSettings, action: keyof typeof DEVICE_ACTIONS): LimitPolicy[] {
  return DEVICE_ACTIONS[action].map((name) => ({ name, ...settings.limits[name] }));
}

/** The limits a user-scoped action must pass. */
export function userPolicies(settings: RateLimitSettings, action: UserAction): LimitPolicy[] {
  return USER_ACTIONS[action].map((name) => ({ name, ...settings.limits[name] }));
}

/** The limits an action on a target address must pass. */
export function addressPolicies(settings: RateLimitSettings, action: AddressAction): LimitPolicy[] {
  return ADDRESS_ACTIONS[action].map((name) => ({ name, ...settings.limits[name] }));
}

/** The limits of one of Gatehouse's own budgets. */
export function budgetPolicies(settings: RateLimitSettings, budget: Budget): LimitPolicy[] {
  return BUDGETS[budget].map((name) => ({ name, ...settings.limits[name] }));
}

/** The limits of a second-factor budget (see SECOND_FACTOR_BUDGETS). */
export function secondFactorPolicies(settings: RateLimitSettings, budget: SecondFactorBudget): LimitPolicy[] {
  return SECOND_FACTOR_BUDGETS[budget].map((name) => ({ name, ...settings.limits[name] }));
}
