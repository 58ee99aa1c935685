import type { Context } from "hono";
import { errorHeaders } from "../web/error-headers";
import type { ZodType } from "zod";
import { AppError, type ErrorCode } from "../errors";
import type { AppEnv } from "../web/context";
import { CSRF_FIELD, formIsGenuine, type FormName } from "./csrf";
import type { Translator } from "../i18n";
import type { FieldErrors, FormState } from "./kit";

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

/**
 * Validates with the API's own schema (the same rules as the JSON endpoints), reporting each bad
 * field with the page's wording (`fields.<name>.invalid` of the catalogue, or `invalid` of
 * `words`); `rename` maps schema fields to form fields (`email` → `identifier`).
 */
export function validate<T>(
  t: Translator,
  schema: ZodType<T>,
  input: unknown,
  rename: Record<string, string> = {},
  words: Record<string, { invalid?: string } | undefined> = {},
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
    fields[name] ??= words[name]?.invalid ?? t.maybe(`fields.${name}.invalid`) ?? t.text("errors.generic");
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
 * The page's view of a service's AppError, in the page's language. Anything that is not an
 * AppError is rethrown for the pages' error handler (500 or 503 page).
 */
export function failureFrom(t: Translator, error: unknown, fieldFor: FieldFor = {}, rename: Record<string, string> = {}): Failure {
  if (!(error instanceof AppError)) throw error;
  // A page says only when to try again; the RateLimit fields are for API clients.
  const wait = errorHeaders(error)["Retry-After"];
  const headers: Record<string, string> = wait ? { "Retry-After": wait } : {};
  const status = error.status;
  const fields: FieldErrors = {};
  let formWide: string | undefined;
  for (const { field, message, reason } of error.errors ?? []) {
    const name = rename[field] ?? field;
    // A service's reason about one field (the password policy's, "already your address"), in the
    // page's language when the catalogue has it; its English words otherwise.
    const said = (reason && t.maybe(reason.key, reason.values)) ?? message;
    if (name === "body") formWide ??= said;
    else fields[name] = said;
  }
  const target = fieldFor[error.code];
  const known = knownWording(t, error);
  if (target && Object.keys(fields).length === 0) {
    fields[target] = known ?? error.detail;
    return { status, state: { fields }, headers };
  }
  let message: string | undefined = known ?? formWide;
  if (message === undefined && Object.keys(fields).length === 0) message = t.text("errors.generic");
  return { status, state: { message, fields }, headers };
}

/** Wording for codes whose meaning does not depend on the form. */
function knownWording(t: Translator, error: AppError): string | undefined {
  const wait = retryAfter(error);
  switch (error.code) {
    case "rate_limited":
      return t.text("errors.rateLimited", { duration: t.duration(wait ?? 60) });
    case "account_locked":
      return wait === null ? t.text("errors.accountLockedHard") : t.text("errors.accountLocked", { duration: t.duration(wait) });
    case "invalid_token":
      return t.text("errors.invalidLink");
    case "email_taken":
      return t.text("errors.emailTaken");
    case "username_taken":
      return t.text("errors.usernameTaken");
    case "invalid_current_password":
      return t.text("errors.currentPassword");
    case "reauthentication_required":
      return t.text("account.reauthenticate");
    case "invalid_code":
      return t.text("errors.invalidCode");
    case "mfa_already_enabled":
      return t.text("errors.mfaAlreadyEnabled");
    case "email_code_required":
      return t.text("errors.emailCodeRequired");
    case "last_second_factor":
      return t.text("errors.lastSecondFactor");
    case "last_sign_in_method":
      return t.text("errors.lastSignInMethod");
    case "identity_taken":
      return t.text("errors.identityTaken");
    case "email_not_verified":
      return t.text("login.notVerified");
    case "not_found":
      return t.text("errors.notFound");
    case "last_superuser":
      return t.text("errors.lastSuperuser");
    default:
      return undefined;
  }
}
