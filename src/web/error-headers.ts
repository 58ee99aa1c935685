import type { AppError } from "../errors";

/**
 * The headers of an error answer, API or page: its own (`Allow`), `Retry-After` as an integer, and
 * the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10) for the limits that refused
 * it: `RateLimit-Policy: "name";q=5;w=60` and `RateLimit: "name";r=0;t=42`, one member per limit.
 * Services say what happened (`retryAfter`, `limits`); how HTTP spells it lives here.
 */
export function errorHeaders(error: AppError): Record<string, string> {
  const headers = { ...error.headers };
  if (error.retryAfter !== undefined) headers["Retry-After"] = String(error.retryAfter);
  if (error.limits.length > 0) {
    headers["RateLimit-Policy"] = error.limits.map((l) => `"${l.name}";q=${l.limit};w=${l.window}`).join(", ");
    headers.RateLimit = error.limits.map((l) => `"${l.name}";r=${l.remaining};t=${l.reset}`).join(", ");
  }
  return headers;
}
