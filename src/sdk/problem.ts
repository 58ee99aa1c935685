import { TITLE_OF, type VerifyError, type VerifyErrorCode, type VerifyErrorReason } from "./errors.ts";

/**
 * The HTTP answer to a refused request, framework-neutral (gatehouse/hono renders it; a plain Node
 * server writes it as is): RFC 9457 problem details in Gatehouse's shape, and the RFC 6750 challenge.
 */

/** A problem body as Gatehouse's API answers it, plus `reason` (which check refused the token). */
export interface AuthProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: VerifyErrorCode | "insufficient_scope";
  reason?: VerifyErrorReason;
  /** `insufficient_scope` only: the scopes or roles the request needs and the token lacks. */
  missing?: string[];
}

/** Status, headers and body of the answer; `body` is to be sent as JSON. */
export interface ProblemResponse {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
  body: AuthProblem;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** A quoted-string parameter of a challenge: no quote or backslash can end it early (RFC 9110 §5.6.4). */
const quoted = (value: string) => `"${value.replace(/[\\"]/g, "").replace(/[^\x20-\x7e]/g, "?")}"`;

/**
 * The answer to a failed verification. No credential: 401 with the bare `Bearer` challenge (RFC 6750
 * §3.1: no error code when the client sent no credential). A refused token: 401 with
 * `error="invalid_token"` and the reason as `error_description` (expired and revoked tokens too: the
 * client should get a new one). The issuer unreachable: 503 with `Retry-After` (fail closed).
 */
export function problemFor(error: VerifyError, options: { realm?: string } = {}): ProblemResponse {
  const realm = options.realm ? `realm=${quoted(options.realm)}` : "";
  const headers: Record<string, string> = { "content-type": PROBLEM_CONTENT_TYPE, "cache-control": "no-store" };
  if (error.code === "service_unavailable") headers["retry-after"] = "5";
  else if (error.code === "authentication_required") headers["www-authenticate"] = realm ? `Bearer ${realm}` : "Bearer";
  else
    headers["www-authenticate"] =
      `Bearer ${[realm, 'error="invalid_token"', `error_description=${quoted(error.detail)}`].filter(Boolean).join(", ")}`;
  return {
    status: error.status,
    headers,
    body: {
      type: `urn:gatehouse:problem:${error.code}`,
      title: TITLE_OF[error.code],
      status: error.status,
      detail: error.detail,
      code: error.code,
      reason: error.reason,
    },
  };
}

/**
 * 403 for a valid token that lacks what the route requires: OAuth `scope` values (RFC 6750's
 * `insufficient_scope`, whose `scope` parameter names every scope the request needs) or Gatehouse
 * roles. `missing` lists what the token lacks, in the body and the detail.
 */
export function insufficientScope(
  need: { scopes: readonly string[]; missingScopes: readonly string[]; missingRoles: readonly string[] },
  options: { realm?: string } = {},
): ProblemResponse {
  const params = [options.realm ? `realm=${quoted(options.realm)}` : "", 'error="insufficient_scope"'];
  if (need.scopes.length > 0) params.push(`scope=${quoted(need.scopes.join(" "))}`);
  const lacks = [
    need.missingScopes.length > 0 ? `the scope ${need.missingScopes.join(" ")}` : "",
    need.missingRoles.length > 0 ? `the role ${need.missingRoles.join(", ")}` : "",
  ].filter(Boolean);
  return {
    status: 403,
    headers: {
      "content-type": PROBLEM_CONTENT_TYPE,
      "cache-control": "no-store",
      "www-authenticate": `Bearer ${params.filter(Boolean).join(", ")}`,
    },
    body: {
      type: "urn:gatehouse:problem:insufficient_scope",
      title: "Insufficient scope",
      status: 403,
      detail: `The token is valid but lacks what this request needs: ${lacks.join(" and ")}.`,
      code: "insufficient_scope",
      missing: [...need.missingScopes, ...need.missingRoles],
    },
  };
}
