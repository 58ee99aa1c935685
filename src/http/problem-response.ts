import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError, findCause, isDependencyError, problemBody, type DependencyError } from "../errors";
import { describeError, log } from "../log";
import type { AppEnv } from "../web/context";
import { errorHeaders } from "../web/error-headers";

/** Seconds a client should wait before retrying when a dependency is down. */
const RETRY_AFTER_UNAVAILABLE = 5;

/** Renders any error as problem+json. Unknown errors are logged and become a bland 500. */
export function renderError(error: unknown, c: Context<AppEnv>): Response {
  const requestIdValue = c.get("requestId") ?? crypto.randomUUID();
  let appError: AppError;
  let dependencyError: DependencyError | undefined;
  if (error instanceof AppError) {
    appError = error;
  } else if ((dependencyError = findCause(error, isDependencyError))) {
    log("error", "dependency.unavailable", { request_id: requestIdValue, dependency: dependencyError.dependency, ...describeError(error) });
    appError = new AppError("service_unavailable", { retryAfter: RETRY_AFTER_UNAVAILABLE });
  } else if (error instanceof HTTPException && error.status === 400) {
    appError = new AppError("malformed_body");
  } else if (error instanceof HTTPException && error.status === 413) {
    appError = new AppError("payload_too_large");
  } else if (error instanceof HTTPException && error.status === 415) {
    appError = new AppError("unsupported_media_type");
  } else {
    log("error", "request.failed", { request_id: requestIdValue, path: c.req.path, ...describeError(error) });
    appError = new AppError("internal_error");
  }
  return c.body(JSON.stringify(problemBody(appError, requestIdValue)), appError.status as 400, {
    ...errorHeaders(appError),
    "Content-Type": "application/problem+json; charset=utf-8",
  });
}
