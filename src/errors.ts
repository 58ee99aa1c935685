/**
 * The one error catalogue. Services throw {@link AppError} with a code from here; `app.onError`
 * renders it as RFC 9457 problem+json. Codes are part of the public HTTP contract: add, never
 * rename.
 */
export const ERROR_CATALOGUE = {
  malformed_body: { status: 400, title: "Malformed request body", detail: "The request body is not valid JSON." },
  password_required: {
    status: 400,
    title: "Password required",
    detail: "Confirming this registration also needs the account's password, a session of the account, or a new password.",
  },
  invalid_current_password: { status: 400, title: "Invalid current password", detail: "The current password is incorrect." },
  invalid_token: { status: 401, title: "Invalid token", detail: "The token is invalid or has expired." },
  authentication_required: {
    status: 401,
    title: "Authentication required",
    detail: "Send an access token or API key: Authorization: Bearer <token>.",
  },
  invalid_code: { status: 401, title: "Invalid code", detail: "The code is wrong, expired or already used." },
  invalid_credentials: { status: 401, title: "Invalid credentials", detail: "Email or password is incorrect." },
  token_expired: { status: 401, title: "Token expired", detail: "The token has expired." },
  token_revoked: { status: 401, title: "Token revoked", detail: "The token has been revoked." },
  refresh_token_reused: {
    status: 401,
    title: "Refresh token reused",
    detail: "This refresh token was already used; the session has been revoked. Log in again.",
  },
  mfa_required: {
    status: 403,
    title: "Second factor required",
    detail: "The first factor was right; complete the sign-in at POST /api/v1/auth/mfa with the mfa_token and one of the methods.",
  },
  mfa_enrollment_required: {
    status: 403,
    title: "Second factor enrolment required",
    detail:
      "This account must have a second factor: enrol one with the mfa_token (Authorization: MFA <mfa_token>), then complete the sign-in at POST /api/v1/auth/mfa with it.",
  },
  email_code_required: {
    status: 403,
    title: "Email code required",
    detail: "An administrator reset this account's second factors: send the code just mailed to the account's address as email_code.",
  },
  email_not_verified: { status: 403, title: "Email not verified", detail: "Verify your email address before logging in." },
  insufficient_scope: {
    status: 403,
    title: "Insufficient scope",
    detail: "This credential is not allowed to perform this action.",
  },
  forbidden: { status: 403, title: "Forbidden", detail: "This action is not allowed." },
  csrf_rejected: {
    status: 403,
    title: "Cross-site request refused",
    detail: "This request could be a cross-site request forgery and was refused.",
  },
  challenge_required: {
    status: 403,
    title: "Challenge required",
    detail: "Sign-ins are under attack: solve the challenge for site_key and send its answer as turnstile_token.",
  },
  reauthentication_required: {
    status: 403,
    title: "Reauthentication required",
    detail: "Sign in again or step up (POST /api/v1/auth/step-up) within 5 minutes of this action.",
  },
  host_not_allowed: {
    status: 403,
    title: "Host not allowed",
    detail: "In development mode this server answers only loopback and *.localhost hosts, and PUBLIC_URL's host.",
  },
  not_found: { status: 404, title: "Not found", detail: "The requested resource does not exist." },
  method_not_allowed: { status: 405, title: "Method not allowed", detail: "This method is not allowed on this resource." },
  last_superuser: {
    status: 409,
    title: "Last superuser",
    detail: "This is the last active superuser; grant another one first.",
  },
  mfa_already_enabled: {
    status: 409,
    title: "Already enabled",
    detail: "An authenticator app is already enabled: disable it first to set up another.",
  },
  last_second_factor: {
    status: 409,
    title: "Last second factor",
    detail: "This account must have a second factor: add another one before removing this one.",
  },
  identity_taken: {
    status: 409,
    title: "Identity linked elsewhere",
    detail: "This provider account is already linked to another account here.",
  },
  last_sign_in_method: {
    status: 409,
    title: "Last way in",
    detail: "This is the account's last way to sign in: set a password, add a passkey or link another provider first.",
  },
  email_taken: { status: 409, title: "Email taken", detail: "An account with this email already exists." },
  username_taken: { status: 409, title: "Username taken", detail: "This username is already taken." },
  payload_too_large: { status: 413, title: "Payload too large", detail: "The request body is larger than allowed." },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported media type",
    detail: "Send the body as JSON with Content-Type: application/json.",
  },
  validation_failed: { status: 422, title: "Validation failed", detail: "The request has invalid fields." },
  weak_password: { status: 422, title: "Weak password", detail: "The password does not meet the password policy." },
  account_locked: {
    status: 423,
    title: "Account locked",
    detail: "Too many failed attempts. Try again later or reset your password.",
  },
  rate_limited: { status: 429, title: "Too many requests", detail: "Too many requests. Try again later." },
  internal_error: { status: 500, title: "Internal error", detail: "Something went wrong on our side." },
  service_unavailable: {
    status: 503,
    title: "Service unavailable",
    detail: "A required service is temporarily unavailable. Try again shortly.",
  },
} as const satisfies Record<string, { status: number; title: string; detail: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface FieldError {
  field: string;
  message: string;
  /**
   * The message's key in the pages' catalogue (src/i18n) and its values, so a hosted page says it
   * in the reader's language. Never sent: the JSON API speaks English, and clients match on `code`.
   */
  reason?: { key: string; values?: Record<string, string | number> };
}

/** How one limit stands (the numbers of the `RateLimit` fields; the HTTP layer writes their syntax). */
export interface LimitInfo {
  name: string;
  limit: number;
  window: number;
  remaining: number;
  reset: number;
}

/** Extension members a problem may carry (RFC 9457 §3.2), each declared in ProblemSchema. */
export interface ProblemExtensions {
  site_key?: string;
  /** `mfa_required`: the token of the sign-in's second step, and the methods it accepts. */
  mfa_token?: string;
  methods?: string[];
}

export interface AppErrorOptions {
  detail?: string;
  errors?: FieldError[];
  /** Headers that are no limit's business (`Allow`); the wait and the limits have fields of their own. */
  headers?: Record<string, string>;
  /** Seconds to wait before trying again (`Retry-After`). */
  retryAfter?: number;
  /** The limits that refused the request (`RateLimit`, `RateLimit-Policy`). */
  limits?: LimitInfo[];
  /** Extension members of the problem body (RFC 9457 §3.2); only the ones declared in ProblemSchema. */
  extensions?: ProblemExtensions;
  cause?: unknown;
  /**
   * Overrides the catalogue's status where the HTTP contract gives the same code another status: a bad
   * mailed link (reset, verification) is `invalid_token` with 400, a bad bearer credential 401.
   */
  status?: 400 | 401;
}

/** The project's only error type. `detail` must never contain secrets or internal text. */
export class AppError extends Error {
  override name = "AppError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly retryAfter: number | undefined;
  readonly limits: LimitInfo[];
  readonly extensions: ProblemExtensions;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const entry = ERROR_CATALOGUE[code];
    super(options.detail ?? entry.detail, { cause: options.cause });
    this.code = code;
    this.status = options.status ?? entry.status;
    this.detail = options.detail ?? entry.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.retryAfter = options.retryAfter;
    this.limits = options.limits ?? [];
    this.extensions = options.extensions ?? {};
  }
}

/** A binding (D1, KV, Durable Object, mail API) could not be reached: rendered as 503, fail closed. */
export class DependencyError extends Error {
  override name = "DependencyError";
  constructor(
    readonly dependency: "d1" | "kv" | "durable_object",
    cause: unknown,
  ) {
    super(`${dependency} unavailable`, { cause });
  }
}

/** Walks an error's `cause` chain (Drizzle wraps driver errors) looking for a match. */
export function findCause<T>(error: unknown, match: (e: unknown) => e is T): T | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (match(e)) return e;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

export const isDependencyError = (e: unknown): e is DependencyError => e instanceof DependencyError;

/** True when a D1 write failed on the named UNIQUE index or column (e.g. `users.email`). */
export function isUniqueViolation(error: unknown, target: string): boolean {
  return (
    findCause(error, (e): e is Error => e instanceof Error && /UNIQUE constraint failed/i.test(e.message) && e.message.includes(target)) !==
    undefined
  );
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  request_id: string;
  errors?: FieldError[];
  site_key?: string;
  mfa_token?: string;
  methods?: string[];
}

/** Builds the RFC 9457 body for an error code. */
export function problemBody(error: AppError, requestId: string): ProblemDetails {
  const body: ProblemDetails = {
    type: `urn:gatehouse:problem:${error.code}`,
    title: ERROR_CATALOGUE[error.code].title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    request_id: requestId,
  };
  if (error.errors) body.errors = error.errors.map(({ field, message }) => ({ field, message }));
  return { ...body, ...error.extensions };
}
