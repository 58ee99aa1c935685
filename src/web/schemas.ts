import { z } from "@hono/zod-openapi";
import { SHIPPED_LOCALES } from "../config/languages";
import { UserResponseSchema } from "../kernel/user-response";
import { API_KEY_SCOPES } from "../api-keys/api-keys";
import { SECURITY_EVENTS_MAX_LIMIT } from "../audit/security-events";
import { SESSIONS_MAX_LIMIT } from "../sessions/sessions";

/**
 * Request and response schemas of the HTTP API. Request field rules (the seed design's input rules). Values are normalised here,
 * once: emails trimmed, NFC-normalised and lower-cased; names trimmed. Passwords are never
 * trimmed or normalised, only bounded so oversized input is refused before any hashing.
 */
/** Control characters, zero-width and bidi-override characters, line/paragraph separators, markup. */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL_OR_MARKUP = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff<>]/;

const RESERVED_USERNAMES: ReadonlySet<string> = new Set(
  `admin administrator root system sysadmin superuser su api support help security gatehouse me self
  null undefined staff moderator mod owner webmaster postmaster hostmaster info mail email noreply
  no-reply abuse billing www auth oauth login logout register signup signin settings account accounts
  user users official team dev developer test`.split(/\s+/),
);

export const emailField = z
  .string()
  .trim()
  .max(254, "Use at most 254 characters.")
  .normalize("NFC")
  .toLowerCase()
  .pipe(z.email("Enter a valid email address."));

export const usernameField = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{3,50}$/, "Use 3 to 50 letters, digits, '_' or '-'.")
  .refine((v) => !RESERVED_USERNAMES.has(v.toLowerCase()), "This username is reserved.");

export const fullNameField = z
  .string()
  .trim()
  .min(1, "Enter your name.")
  .max(255, "Use at most 255 characters.")
  .refine((v) => !CONTROL_OR_MARKUP.test(v), "Control characters and '<' or '>' are not allowed.");

/** Long enough for any policy-conforming password; anything longer is refused unhashed. */
const passwordField = z.string().min(1, "Enter a password.").max(512, "The password is too long.");

export const registerBody = z.object({
  email: emailField,
  password: passwordField,
  full_name: fullNameField,
  username: usernameField.optional().nullable(),
});

/** A device token this client got at an earlier sign-in (anything else simply counts as none). */
const deviceTokenField = z.string().max(256).optional().openapi({
  description: "The `device_token` from an earlier sign-in: this client then has its own failure budget, apart from strangers'.",
});

export const loginBody = z
  .object({
    email: emailField.optional(),
    username: z.string().trim().min(1).max(50).optional(),
    password: passwordField,
    device_token: deviceTokenField,
    turnstile_token: z.string().max(2048).optional().openapi({
      description:
        "Only while sign-ins are under attack (403 `challenge_required`): the answer of the Turnstile challenge for its `site_key`.",
    }),
  })
  .refine((b) => (b.email === undefined) !== (b.username === undefined), {
    message: "Send either email or username.",
    path: ["email"],
  });

export const updateProfileBody = z.object({
  full_name: fullNameField.optional(),
  username: usernameField.nullable().optional(),
  locale: z
    .enum(SHIPPED_LOCALES, { error: `Use one of ${SHIPPED_LOCALES.join(", ")}, or null.` })
    .nullable()
    .optional()
    .openapi({ description: "The language of pages and mail for this account; null: as the browser asks." }),
});

/**
 * Any string: whatever is not a live refresh token of ours (an access token, an API key, random
 * text, "") is the service's 401 `invalid_token`, never a 422 that would tell token shapes apart.
 * The 16 KiB body limit bounds it and the service only hashes it.
 */
const refreshTokenField = z.string();

/** Optional in cookie mode, where the `__Host-gh_rt` cookie carries it. */
export const refreshBody = z.object({ refresh_token: refreshTokenField.optional() });

export const logoutBody = z.object({ refresh_token: refreshTokenField.optional() });

export const tokenBody = z.object({ token: z.string().min(1).max(256) });

/** A registration token also needs the password (or a session of the account), or a new password. */
export const verifyEmailBody = z
  .object({
    token: z.string().min(1).max(256),
    password: passwordField.optional().openapi({ description: "The password chosen at registration (registration links only)." }),
    new_password: passwordField
      .optional()
      .openapi({ description: "Replaces the password instead; every session and API key of the account dies (registration links only)." }),
  })
  .refine((b) => b.password === undefined || b.new_password === undefined, {
    message: "Send either password or new_password.",
    path: ["new_password"],
  });

export const logoutQuery = z.object({ scope: z.enum(["all", "session"]).optional() });

/** `current_password` / `password`: required while the account has a usable password (a 422 otherwise). */
export const changePasswordBody = z.object({ current_password: passwordField.optional(), new_password: passwordField });

export const deleteAccountBody = z.object({ password: passwordField.optional() });

/** forgot-password and resend-verification. */
export const emailBody = z.object({ email: emailField, device_token: deviceTokenField });

const turnstileField = z.string().max(2048).optional().openapi({
  description: "Only while sign-ins are under attack (403 `challenge_required`): the answer of the Turnstile challenge for its `site_key`.",
});

export const emailCodeRequestBody = z.object({ email: emailField, device_token: deviceTokenField, turnstile_token: turnstileField });

export const emailCodeVerifyBody = z.object({
  email: emailField,
  code: z
    .string()
    .trim()
    .regex(/^\d{8}$/, "Enter the 8-digit code from the email.")
    .openapi({ description: "The 8-digit code of the `sign_in_code` mail." }),
  device_token: deviceTokenField,
  full_name: fullNameField.optional().openapi({ description: "With EMAIL_CODE_SIGN_UP: the name of the account a new address creates." }),
  turnstile_token: turnstileField,
});

export const emailCodeSignInBody = z.object({ enabled: z.boolean() });
export const EmailCodeSignInSchema = z.object({ enabled: z.boolean() }).openapi("EmailCodeSignIn");

export const resetPasswordBody = z.object({ token: z.string().min(1).max(256), new_password: passwordField });

export const changeEmailBody = z.object({ new_email: emailField, password: passwordField.optional() });

/** Control characters and bidi overrides would let a key name disguise itself in a listing. */
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export const createApiKeyBody = z.object({
  name: z
    .string()
    .trim()
    .min(1, "Name the key.")
    .max(100, "Use at most 100 characters.")
    .refine((v) => !CONTROL_OR_BIDI.test(v), "Control characters are not allowed."),
  expires_in_days: z.number().int("Use a whole number of days.").min(1).max(3650).nullable().optional(),
  scopes: z
    .array(z.enum(API_KEY_SCOPES))
    .min(1, "Give the key at least one scope, or leave scopes out for all of them.")
    .max(API_KEY_SCOPES.length * 2)
    .optional(),
  current_password: passwordField.optional(),
});

export const idParam = z.object({ id: z.string().min(1).max(64) });

export const userSessionParams = z.object({ id: z.string().min(1).max(64), sid: z.string().min(1).max(64) });

export const adminUsersQuery = z.object({
  query: z.string().trim().min(1).max(254).optional(),
  status: z.enum(["active", "deactivated", "unverified", "locked"]).optional(),
  mfa: z.enum(["enrolled", "none"]).optional().openapi({
    description: "`enrolled`: accounts with a second factor; `none`: accounts without (who `MFA_REQUIRED` will stop at sign-in).",
  }),
  created_after: z.iso.datetime({ offset: true }).optional(),
  created_before: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int("Use a whole number.").min(1).max(100).optional(),
});

/** Role names a site defines: short, lower-case, no spaces (they travel in every access token). */
export const rolesBody = z.object({
  roles: z
    .array(
      z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,63}$/, "Use 1 to 64 of a-z, 0-9, '_', '.', ':' or '-', starting with a letter or digit."),
    )
    .max(32, "At most 32 roles."),
});

/** Any text: an over-long or unknown id is simply not one of the caller's keys (404). */
export const apiKeyIdParam = z.object({ id: z.string().transform((v) => v.slice(0, 64)) });

export const securityEventsQuery = z.object({
  limit: z.coerce.number().int("Use a whole number.").min(1).max(SECURITY_EVENTS_MAX_LIMIT).optional(),
  cursor: z.string().min(1).max(200).optional(),
});

export const sessionsQuery = z.object({
  limit: z.coerce.number().int("Use a whole number.").min(1).max(SESSIONS_MAX_LIMIT).optional(),
  cursor: z.string().min(1).max(200).optional(),
});

export const unlockBody = z
  .object({ email: emailField.optional(), username: z.string().trim().min(1).max(50).optional() })
  .refine((b) => (b.email === undefined) !== (b.username === undefined), { message: "Send either email or username.", path: ["email"] });

export const outboxQuery = z.object({ to: z.string().trim().min(3).max(254) });

// Responses.

const isoTime = z.string().openapi({ format: "date-time", example: "2026-11-22T10:00:00.000Z" });

export const UserSchema = UserResponseSchema;

export const TokenResponseSchema = z
  .strictObject({
    access_token: z.string(),
    refresh_token: z.string().optional().openapi({ description: "Absent in cookie mode: the `__Host-gh_rt` cookie carries it." }),
    token_type: z.literal("bearer"),
    expires_in: z.number().int().openapi({ description: "Seconds until the access token expires." }),
    refresh_expires_in: z.number().int().openapi({ description: "Seconds until the refresh token expires if unused." }),
    user: UserSchema,
  })
  .openapi("TokenResponse");

/** Login and registration also hand out the client's device token. */
export const SignInResponseSchema = TokenResponseSchema.extend({
  device_token: z.string().optional().openapi({
    description: "Send it back in later login and forgot-password bodies (bearer clients); absent in cookie mode (`__Host-gh_dev`).",
  }),
}).openapi("SignInResponse");

export const DeviceListSchema = z
  .strictObject({
    devices: z.array(
      z.strictObject({
        id: z.string(),
        created_at: isoTime,
        last_seen_at: isoTime,
        ip_address: z.string().nullable(),
        user_agent: z.string().nullable(),
      }),
    ),
  })
  .openapi("DeviceList");

export const MessageSchema = z.strictObject({ message: z.string() }).openapi("Message");

export const SessionListSchema = z
  .strictObject({
    sessions: z.array(
      z.strictObject({
        id: z.string(),
        created_at: isoTime,
        last_used_at: isoTime,
        expires_at: isoTime,
        ip_address: z.string().nullable(),
        user_agent: z.string().nullable(),
        device: z.string().nullable(),
        current: z.boolean(),
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .openapi("SessionList");

export const SecurityEventPageSchema = z
  .strictObject({
    events: z.array(
      z.strictObject({
        id: z.string(),
        action: z.string(),
        ip_address: z.string().nullable(),
        user_agent: z.string().nullable(),
        created_at: isoTime,
        metadata: z.record(z.string(), z.unknown()).nullable(),
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .openapi("SecurityEventPage");

const apiKeyFields = {
  id: z.string(),
  name: z.string(),
  prefix: z.string().openapi({ description: "The key's public beginning, to recognise it in listings." }),
  scopes: z.array(z.string()),
  created_at: isoTime,
  expires_at: isoTime.nullable(),
};

const ApiKeySchema = z
  .strictObject({ ...apiKeyFields, last_used_at: isoTime.nullable(), last_used_ip: z.string().nullable() })
  .openapi("ApiKey");

export const ApiKeyListSchema = z.strictObject({ api_keys: z.array(ApiKeySchema) }).openapi("ApiKeyList");

export const CreatedApiKeySchema = z
  .strictObject({ ...apiKeyFields, api_key: z.string().openapi({ description: "The key itself; shown only in this response." }) })
  .openapi("CreatedApiKey");

export const JwksSchema = z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("Jwks");

export const OpenIdConfigurationSchema = z
  .looseObject({
    issuer: z.string(),
    jwks_uri: z.string(),
    ui_locales_supported: z.array(z.string()).openapi({ description: "The languages of the hosted pages and mail." }),
  })
  .openapi("OpenIdConfiguration", {
    description:
      "OpenID Connect Discovery / RFC 8414 metadata: with the provider on (JWT_ISSUER equal to PUBLIC_URL), also its endpoints and what they support.",
  });

export const HealthSchema = z.strictObject({ status: z.literal("ok") });

export const OutboxSchema = z.strictObject({
  messages: z.array(
    z.strictObject({
      to: z.string(),
      kind: z.enum(["email_verification", "password_reset", "email_change", "security_notice", "sign_in_code"]),
      locale: z.string().openapi({ description: "The language the mail is written in (the account's, else the request's)." }),
      subject: z.string(),
      text: z.string(),
      token: z.string().nullable(),
      code: z.string().optional().openapi({ description: "The code a `sign_in_code` mail carries." }),
      subtype: z.string().optional().openapi({ description: "What the mail is for, when its kind is broad (`mfa_enrolment`)." }),
      created_at: isoTime,
    }),
  ),
});

export const CookieDiagnosisSchema = z
  .strictObject({
    request: z.strictObject({
      origin: z.string().nullable(),
      host: z.string(),
      secure_context: z.boolean(),
      sec_fetch_site: z.string().nullable(),
      cookie_mode: z.boolean(),
    }),
    cookies_received: z.array(z.string()),
    cookies: z.array(
      z.strictObject({
        name: z.string(),
        attributes: z.string(),
        stored: z.boolean(),
        sent_with_this_request: z.boolean(),
        why: z.array(z.string()),
      }),
    ),
    cors: z.strictObject({ origin_listed: z.boolean(), credentials: z.boolean() }),
    csrf: z.strictObject({ cookie_requests_pass: z.boolean(), why: z.array(z.string()) }),
    advice: z.array(z.string()),
  })
  .openapi("CookieDiagnosis");

export const MfaStatusSchema = z
  .object({
    totp: z.object({ enabled: z.boolean(), created_at: z.string().nullable() }),
    passkeys: z.number().int(),
    recovery_codes_remaining: z.number().int(),
    required: z.boolean().openapi({ description: "`MFA_REQUIRED` applies to the account: it must keep a second factor." }),
    email_code_required: z
      .boolean()
      .openapi({ description: "An administrator reset the factors: the next enrolment needs the mailed code as `email_code`." }),
  })
  .openapi("MfaStatus");

export const AdminUserSchema = UserSchema.extend({
  is_superuser: z.boolean(),
  roles: z.array(z.string()),
  deactivated_at: isoTime.nullable(),
  second_factors: z
    .array(z.string())
    .openapi({ description: "The second factors the user has turned on (`totp`, `passkey`); empty when the password alone signs in." }),
}).openapi("AdminUser");

export const AdminUserListSchema = z
  .strictObject({ users: z.array(AdminUserSchema), next_cursor: z.string().nullable() })
  .openapi("AdminUserList");

export const AdminUserDetailsSchema = z
  .strictObject({
    user: AdminUserSchema,
    sessions: SessionListSchema.shape.sessions,
    api_keys: ApiKeyListSchema.shape.api_keys,
    devices: DeviceListSchema.shape.devices,
    lock: z.strictObject({ locked: z.boolean(), hard: z.boolean(), locked_until: isoTime.nullable(), failures: z.number().int() }),
    recent_events: SecurityEventPageSchema.shape.events,
    mfa: MfaStatusSchema,
  })
  .openapi("AdminUserDetails");

const codeField = z
  .string()
  .trim()
  .min(1, "Enter the code.")
  .max(64, "Use at most 64 characters.")
  .openapi({ description: "A 6-digit code of the authenticator app (`totp`), or one recovery code (`recovery_code`)." });

export const totpConfirmBody = z.object({ code: codeField });

/** The body of an enrolment's start: the mailed code, needed only after an administrator reset the factors. */
export const enrolmentStartBody = z.object({
  email_code: z
    .string()
    .trim()
    .regex(/^\d{8}$/, "Enter the 8-digit code from the email.")
    .optional()
    .openapi({ description: "The 8-digit code mailed after `403 email_code_required` (needed only after an administrator's reset)." }),
});

export const TotpEnrolmentSchema = z
  .object({
    secret: z.string().openapi({ description: "Base32, no padding: for typing into an app by hand." }),
    otpauth_uri: z.string().openapi({ description: "`otpauth://totp/…` (SHA-1, 6 digits, 30 s): what the QR code holds." }),
  })
  .openapi("TotpEnrolment");

export const RecoveryCodesSchema = z
  .object({ recovery_codes: z.array(z.string()).optional().openapi({ description: "Shown this once: 10 codes, each works once." }) })
  .openapi("RecoveryCodes");

/** WebAuthn's JSON forms (base64url without padding), as `PublicKeyCredential.toJSON()` writes them. */
const b64url = z
  .string()
  .max(16_384)
  .regex(/^[A-Za-z0-9_-]*$/, "Use base64url.");
const credentialBase = {
  id: z
    .string()
    .min(1)
    .max(1366)
    .regex(/^[A-Za-z0-9_-]+$/),
  rawId: b64url.optional(),
  type: z.literal("public-key"),
  authenticatorAttachment: z.string().max(32).nullable().optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).optional(),
};

const registrationCredential = z
  .object({
    ...credentialBase,
    response: z.object({
      clientDataJSON: b64url,
      attestationObject: b64url,
      transports: z.array(z.string().max(32)).max(10).optional(),
      authenticatorData: b64url.optional(),
      publicKey: b64url.optional(),
      publicKeyAlgorithm: z.number().int().optional(),
    }),
  })
  .openapi("RegistrationResponseJSON");

const assertionCredential = z
  .object({
    ...credentialBase,
    response: z.object({
      clientDataJSON: b64url,
      authenticatorData: b64url,
      signature: b64url,
      userHandle: b64url.nullable().optional(),
    }),
  })
  .openapi("AuthenticationResponseJSON");

export const addPasskeyBody = z.object({
  credential: registrationCredential,
  name: z.string().trim().min(1).max(100).optional(),
});

export const renamePasskeyBody = z.object({ name: z.string().trim().min(1, "Name the passkey.").max(100) });

export const passkeySignInBody = z.object({ credential: assertionCredential, device_token: z.string().max(512).optional() });

const descriptor = z.object({ type: z.literal("public-key"), id: z.string(), transports: z.array(z.string()).optional() });

export const CreationOptionsSchema = z
  .object({
    challenge: z.string(),
    rp: z.object({ id: z.string(), name: z.string() }),
    user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }),
    pubKeyCredParams: z.array(z.object({ type: z.literal("public-key"), alg: z.number().int() })),
    timeout: z.number().int(),
    excludeCredentials: z.array(descriptor),
    authenticatorSelection: z.object({
      residentKey: z.literal("required"),
      requireResidentKey: z.boolean(),
      userVerification: z.literal("required"),
    }),
    attestation: z.literal("none"),
  })
  .openapi("PublicKeyCredentialCreationOptionsJSON");

export const RequestOptionsSchema = z
  .object({
    challenge: z.string(),
    rpId: z.string(),
    timeout: z.number().int(),
    userVerification: z.literal("required"),
    allowCredentials: z.array(descriptor),
  })
  .openapi("PublicKeyCredentialRequestOptionsJSON");

export const PasskeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    backed_up: z.boolean(),
    backup_eligible: z.boolean(),
    transports: z.array(z.string()),
    aaguid: z.string(),
    authenticator: z
      .string()
      .nullable()
      .openapi({ description: "The provider's name for a known AAGUID (e.g. iCloud Keychain), else null." }),
    recovery_codes: z.array(z.string()).optional(),
  })
  .openapi("Passkey");

export const PasskeyListSchema = z.object({ passkeys: z.array(PasskeySchema) }).openapi("PasskeyList");

const IdentitySchema = z
  .object({
    id: z.string(),
    provider: z.string().openapi({ description: "The `OAUTH_PROVIDERS` id it came through." }),
    email: z
      .string()
      .nullable()
      .openapi({ description: "The address the provider gave when it was linked (never changes the account's)." }),
    created_at: z.string(),
  })
  .openapi("Identity");

export const IdentityListSchema = z.object({ identities: z.array(IdentitySchema) }).openapi("IdentityList");

export const mfaBody = z
  .object({
    mfa_token: z.string().min(1).max(4096).openapi({ description: "The `mfa_token` of the `403 mfa_required` answer." }),
    method: z.enum(["totp", "recovery_code", "passkey"]),
    code: codeField.optional(),
    credential: assertionCredential
      .optional()
      .openapi({ description: "`passkey`: the assertion, after `POST /auth/mfa/passkey-options`." }),
  })
  .refine((b) => (b.method === "passkey" ? b.credential !== undefined : b.code !== undefined), {
    message: "Send code with totp or recovery_code, credential with passkey.",
    path: ["method"],
  });

export const mfaTokenBody = z.object({ mfa_token: z.string().min(1).max(4096) });

export const stepUpBody = z
  .object({
    method: z.enum(["password", "totp", "recovery_code", "passkey"]),
    code: codeField.optional(),
    password: passwordField.optional(),
    credential: assertionCredential
      .optional()
      .openapi({ description: "`passkey`: the assertion, after `POST /auth/step-up/passkey-options`." }),
  })
  .refine(
    (b) =>
      b.method === "password" ? b.password !== undefined : b.method === "passkey" ? b.credential !== undefined : b.code !== undefined,
    { message: "Send password with method password, code with totp or recovery_code, credential with passkey.", path: ["method"] },
  );
