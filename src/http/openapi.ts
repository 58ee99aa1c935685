import { z } from "@hono/zod-openapi";
import { ERROR_CATALOGUE, type ErrorCode } from "../errors";

/**
 * Building blocks for route declarations. A route is declared once with `createRoute`: its request
 * schemas validate the request and its response schemas, including the problem+json errors it can
 * answer with their `code`s from the one catalogue, become its entry in `GET /openapi.json`.
 */

const FieldErrorSchema = z.strictObject({ field: z.string(), message: z.string() });

/** RFC 9457 problem details, as every 4xx/5xx answers them. */
const ProblemSchema = z
  .strictObject({
    type: z.string().openapi({ example: "urn:gatehouse:problem:invalid_credentials" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(Object.keys(ERROR_CATALOGUE) as [ErrorCode, ...ErrorCode[]]),
    request_id: z.string(),
    errors: z.array(FieldErrorSchema).optional(),
    site_key: z
      .string()
      .optional()
      .openapi({ description: "`challenge_required` only: the Turnstile site key to solve the challenge for." }),
    mfa_token: z.string().optional().openapi({
      description:
        "`mfa_required`: the opaque token that completes this sign-in at `POST /auth/mfa` (5 minutes, 5 wrong answers). `mfa_enrollment_required`: the token that enrols a second factor (`Authorization: MFA`, 10 minutes) and then completes the sign-in there.",
    }),
    methods: z
      .array(z.enum(["totp", "recovery_code", "passkey"]))
      .optional()
      .openapi({
        description: "`mfa_required`: the second steps this account accepts; `mfa_enrollment_required`: the factors it may enrol.",
      }),
  })
  .openapi("Problem");

/** Errors any route can answer: an unexpected failure, or a dependency (D1, KV, Durable Object) down. */
const ALWAYS: ErrorCode[] = ["internal_error", "service_unavailable"];
/** Errors any route with a JSON body can answer, before its own validation runs. */
export const BODY_ERRORS: ErrorCode[] = ["malformed_body", "payload_too_large", "unsupported_media_type", "validation_failed"];
/** Errors of a route behind `requireAuth()`. */
export const AUTH_ERRORS: ErrorCode[] = ["authentication_required", "invalid_token", "token_expired", "token_revoked"];

const PROBLEM_MEDIA_TYPE = "application/problem+json";

/**
 * The problem responses of a route, one per status, each with its `code` narrowed to the codes this
 * route can answer with that status (the contract test checks them against the catalogue).
 * `status` overrides the catalogue's status where a code is answered with another (a bad mailed
 * link is `invalid_token` with 400).
 */
export function problems(codes: ErrorCode[], status: Partial<Record<ErrorCode, number>> = {}) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...codes, ...ALWAYS])) {
    const httpStatus = status[code] ?? ERROR_CATALOGUE[code].status;
    byStatus.set(httpStatus, [...(byStatus.get(httpStatus) ?? []), code]);
  }
  const responses: Record<number, { description: string; content: Record<string, { schema: z.ZodType }> }> = {};
  for (const [httpStatus, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[httpStatus] = {
      description: list.map((code) => `\`${code}\`: ${ERROR_CATALOGUE[code].title}`).join("; "),
      content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema.extend({ code: z.enum(list as [ErrorCode, ...ErrorCode[]]) }) } },
    };
  }
  return responses;
}

/** A JSON success response. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A success without a body (204). */
export const noContent = { description: "Done; no body." };

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

/** An optional JSON request body (none at all reads as `{}`). */
export function optionalJsonBody<T extends z.ZodType>(schema: T) {
  return { required: false, content: { "application/json": { schema } } };
}

/** Security requirements: who may call a route. */
export const security: Record<"anyCredential" | "accessToken" | "accessOrEnrolment", Record<string, string[]>[]> = {
  /** An access token or an API key (limited by its scopes). */
  anyCredential: [{ accessToken: [] }, { apiKey: [] }],
  /** Access tokens only: credential management never accepts an API key. */
  accessToken: [{ accessToken: [] }],
  /** The four enrolment endpoints: an access token, or an enrolment `mfa_token`. */
  accessOrEnrolment: [{ accessToken: [] }, { enrolmentToken: [] }],
};

export const BOOKMARK_DESCRIPTION =
  "A D1 bookmark (opaque). Responses of requests that changed data carry it; send it back on your next requests to read your own writes wherever you are (without it, reads near you may lag the write by about a second).";

export const securitySchemes = {
  accessToken: {
    type: "http" as const,
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An access token from login, register or refresh (ES256 JWT, `typ: at+jwt`).",
  },
  enrolmentToken: {
    type: "http" as const,
    scheme: "MFA",
    description:
      "`Authorization: MFA <mfa_token>`: the `mfa_token` of a `403 mfa_enrollment_required` (10 minutes). Accepted only by `POST /users/me/mfa/totp`, `/users/me/mfa/totp/confirm`, `/users/me/passkeys/options` and `/users/me/passkeys`, while the account has no second factor; elsewhere 401.",
  },
  apiKey: {
    type: "http" as const,
    scheme: "bearer",
    bearerFormat: "API key",
    description: "An API key (`gh_…`) sent as a bearer credential; limited to its scopes, never manages credentials.",
  },
};
