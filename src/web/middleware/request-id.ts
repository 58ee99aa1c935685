import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";

/** The longest client-sent request id kept for the log line; the rest is cut off. */
const CLIENT_REQUEST_ID_MAX_LENGTH = 200;

/**
 * Gives every request an id of Gatehouse's own: a fresh UUID in `c.var.requestId` and the
 * `X-Request-Id` response header (problem bodies repeat it). A client-sent `X-Request-Id` is never
 * adopted — a client could otherwise make its requests share an id with someone else's, or plant
 * text that operators later paste into log queries — but it is kept, trimmed and bounded, as
 * `client_request_id` on the request's log line (request-context.ts), so a client's own tracing
 * can still be matched to ours. It is never echoed in a response.
 */
export function createRequestId() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const id = crypto.randomUUID();
    c.set("requestId", id);
    const fromClient = c.req.header("x-request-id")?.trim().slice(0, CLIENT_REQUEST_ID_MAX_LENGTH);
    if (fromClient) c.set("clientRequestId", fromClient);
    c.header("X-Request-Id", id);
    await next();
  });
}
