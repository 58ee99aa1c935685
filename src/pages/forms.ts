import type { Context } from "hono";
import { errorHeaders } from "../web/error-headers";
import type { ZodType } from "zod";
import { AppError, type ErrorCode } from "../errors";
import type { AppEnv } from "../web/context";
import { CSRF_FIELD, formIsGenuine, type FormName } from "./csrf";
import type { FieldErrors, FormState } from "./kit";
import { strings as s } from "./strings";

/**
 * Reading a posted form and turning failures into what a page shows: messages beside fields for
 * the form's own mistakes, one message for the rest (lockout and rate limits with their wait).
 */

export type FormData = Record<string, string | string[]>;

/** The posted fields (urlencoded or multipart), files dropped; null when the CSRF checks fail. */
export async function readForm(c: Context<AppEnv>, form: FormName | ((data: FormData) => FormName)): Promise<FormData | null> {
  const raw = await c.req.parseBody({ all: true }).catch(() => ({}));
  const data: FormData = {};
  for (const [key, value] of Object.entries(raw)) {
    const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
    if (values.length > 0) data[key] = values.length === 1 ? values[0]! : values;
  }
  const name = typeof form === "function" ? form(data) : form;
  const genuine = await formIsGenuine(c, name, text(data, CSRF_FIELD), c.var.deps.config.corsOrigins);
  return genuine ? data : null;
}

/** One text field; repeated fields give their first value, empty ones undefined. */
export function text(data: FormData, name: string): string | undefined {
  const value = data[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}

export function list(data: FormData, name: string): string[] {
  const value = data[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

const fieldStrings = s.fields as Record<string, { invalid?: string } | undefined>;

/**
 * Validates with the API's own schema (the same rules as the JSON endpoints), reporting each bad
 * field with the page's wording; `rename` maps schema fields to form fields (`email` → `identifier`).
 */
export function validate<T>(
  schema: ZodType<T>,
  input: unknown,
  rename: Record<string, string> = {},
): { ok: true; data: T } | { ok: false; fields: FieldErrors } {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, data: result.data };
  // In the order the form asks (the input's key order), so the error summary reads top to bottom.
  const order = input && typeof input === "object" ? Object.keys(input) : [];
  const bad = [...new Set(result.error.issues.map((issue) => String(issue.path[0] ?? "")))];
  bad.sort((a, b) => (order.indexOf(a) + 1 || Infinity) - (order.indexOf(b) + 1 || Infinity));
  const fields: FieldErrors = {};
  for (const schemaField of bad) {
    const name = rename[schemaField] ?? schemaField;
    fields[name] ??= fieldStrings[name]?.invalid ?? s.errors.generic;
  }
  return { ok: false, fields };
}

/** A failed form: the state to render again and its status (and headers, like `Retry-After`). */
export interface Failure {
  status: number;
  state: FormState;
  headers: Record<string, string>;
}

/** Which form field a field-level error code belongs to, per form. */
export type FieldFor = Partial<Record<ErrorCode, string>>;

const retryAfter = (error: AppError): number | null => (error.retryAfter !== undefined && error.retryAfter > 0 ? error.retryAfter : null);

/**
 * The page's view of a service's AppError. Anything that is not an AppError is rethrown for the
 * pages' error handler (500 or 503 page).
 */
export function failureFrom(error: unknown, fieldFor: FieldFor = {}, rename: Record<string, string> = {}): Failure {
  if (!(error instanceof AppError)) throw error;
  // A page says only when to try again; the RateLimit fields are for API clients.
  const wait = errorHeaders(error)["Retry-After"];
  const headers: Record<string, string> = wait ? { "Retry-After": wait } : {};
  const status = error.status;
  const fields: FieldErrors = {};
  for (const { field, message } of error.errors ?? []) {
    const name = rename[field] ?? field;
    // A service's own words about one field (the password policy's reason, "already your address").
    if (name !== "body") fields[name] = message;
  }
  const target = fieldFor[error.code];
  const known = KNOWN[error.code]?.(error);
  if (target && Object.keys(fields).length === 0) {
    fields[target] = known ?? error.detail;
    return { status, state: { fields }, headers };
  }
  let message: string | undefined = known;
  if (message === undefined && Object.keys(fields).length === 0)
    message = error.code === "validation_failed" ? error.detail : s.errors.generic;
  return { status, state: { message, fields }, headers };
}

/** Wording for codes whose meaning does not depend on the form. */
const KNOWN: Partial<Record<ErrorCode, (error: AppError) => string>> = {
  rate_limited: (e) => s.errors.rateLimited(retryAfter(e) ?? 60),
  account_locked: (e) => s.errors.accountLocked(retryAfter(e)),
  invalid_token: () => s.errors.invalidLink,
  email_taken: () => s.errors.emailTaken,
  username_taken: () => s.errors.usernameTaken,
  invalid_current_password: () => s.errors.currentPassword,
  reauthentication_required: () => s.account.reauthenticate,
  email_not_verified: () => s.login.notVerified,
  not_found: () => s.errors.notFound,
  last_superuser: () => s.errors.lastSuperuser,
};
