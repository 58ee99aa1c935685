import { afterEach, describe, expect, it, vi } from "vitest";
import { call, freshIp, problem } from "./helpers";

/**
 * Issue #10, plumbing: Gatehouse's own request ids, any non-refresh-token refused as 401,
 * a configurable password minimum, and a bounded, paginated session list.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The `"event":"request"` lines written while captured (console.log is silenced meanwhile). */
function captureRequestLines(): () => Record<string, unknown>[] {
  const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
  return () =>
    spy.mock.calls
      .map(([line]) => (typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : null))
      .filter((line): line is Record<string, unknown> => line?.event === "request");
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("request ids", () => {
  it("are always Gatehouse's own: a client-sent X-Request-Id is not echoed", async () => {
    const clientId = "client-trace-0001";
    const res = await call("/api/v1/auth/login", { body: {}, ip: freshIp(), headers: { "X-Request-Id": clientId } });
    const text = await res.clone().text();
    const body = await problem(res, 422, "validation_failed");
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(UUID);
    expect(id).not.toBe(clientId);
    expect(body.request_id).toBe(id);
    expect(text).not.toContain(clientId);
  });

  it("log the client's id, trimmed and bounded, as client_request_id beside ours", async () => {
    const lines = captureRequestLines();
    const res = await call("/health", { headers: { "X-Request-Id": "  abc-123  " } });
    const long = `${"x".repeat(200)}TAIL`;
    await call("/health", { headers: { "X-Request-Id": long } });
    await call("/health");
    const [first, second, third] = lines();
    expect(first).toMatchObject({ request_id: res.headers.get("x-request-id"), client_request_id: "abc-123" });
    expect(second!.client_request_id).toBe("x".repeat(200));
    expect(third!.client_request_id).toBeNull();
    expect(third!.request_id).toMatch(UUID);
  });
});
