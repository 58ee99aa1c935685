import { afterEach, describe, expect, it, vi } from "vitest";
import { forgetAttackMode } from "../src/abuse/spraying";
import { call, freshIp, login, register, uniqueEmail } from "./helpers";

/** The one structured log line every request writes (what operators and the latency work read). */

interface RequestLine {
  level: string;
  event: string;
  method: string;
  route: string | null;
  status: number;
  duration_ms: number;
  request_id: string;
  user_id: string | null;
  storage: { d1: number; kv: number; durable_object: number; queue: number; round_trips: number };
}

function captureRequestLines(): { lines: () => RequestLine[] } {
  const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
  return {
    lines: () =>
      spy.mock.calls
        .map(([line]) => (typeof line === "string" && line.startsWith("{") ? (JSON.parse(line) as RequestLine) : null))
        .filter((line): line is RequestLine => line?.event === "request"),
  };
}

afterEach(() => vi.restoreAllMocks());

describe("request log line", () => {
  it("names the route pattern, status, duration, request id, user and storage calls", async () => {
    const user = await register();
    const log = captureRequestLines();
    const res = await call("/api/v1/users/me/sessions", { token: user.accessToken });
    expect(res.status).toBe(200);
    const [line] = log.lines();
    expect(line).toMatchObject({
      level: "info",
      method: "GET",
      route: "/api/v1/users/me/sessions",
      status: 200,
      request_id: res.headers.get("x-request-id"),
      user_id: user.userId,
    });
    expect(line!.duration_ms).toBeGreaterThanOrEqual(0);
    // Token check: one D1 read (a replica's where there is one; never KV); the list is
    // one more D1 read after it (plus one to load the signing keys when this isolate's key cache is cold).
    expect(line!.storage).toMatchObject({ kv: 0, durable_object: 0, queue: 0 });
    expect(line!.storage.d1).toBeGreaterThanOrEqual(2);
    expect(line!.storage.round_trips).toBeGreaterThanOrEqual(2);
    expect(line!.storage.round_trips).toBeLessThanOrEqual(4);
  });

  it("a failed login: 2 round trips on the answer's path and the after-answer work, whether or not the attack mode is cached", async () => {
    const log = captureRequestLines();
    forgetAttackMode();
    await login({ email: uniqueEmail("rt"), password: "not the password" });
    await login({ email: uniqueEmail("rt"), password: "not the password" });
    const [cold, warm] = log.lines();
    expect([cold!.status, warm!.status]).toEqual([401, 401]);
    // [per-IP object ‖ replica read ‖ guess admitted] → [primary read + its audit row, one batch]; the
    // third is the after-answer work (guess and IP settles, the spraying count), started before the log
    // line. Cold: the monitor is asked after the answer (one Durable Object call more, on no one's path).
    expect(cold!.storage.durable_object).toBe(warm!.storage.durable_object + 1);
    expect(cold!.storage).toMatchObject({ d1: 2, round_trips: 3 });
    expect(warm!.storage).toMatchObject({ d1: 2, round_trips: 3 });
  });

  it("a successful login: 3 sequential round trips, one of them the D1 primary's batch", async () => {
    const user = await register();
    const log = captureRequestLines();
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
    // [per-IP object ‖ replica read ‖ guess admitted] → one D1 batch → the settles, after the answer.
    expect(log.lines()[0]!.storage).toMatchObject({ d1: 2, round_trips: 3 });
  });

  it("a registration: the per-IP object, then lookups, hash and token at once, then one D1 batch", async () => {
    const register = () =>
      call("/api/v1/auth/register", {
        body: { email: uniqueEmail("rt"), password: "correct horse battery staple 42", full_name: "Round Trip" },
        ip: freshIp(),
      });
    expect((await register()).status).toBe(201); // warms this isolate's signing keys
    const log = captureRequestLines();
    expect((await register()).status).toBe(201);
    // The answer waits for 3: the per-IP object, [replica lookup ‖ PBKDF2 ‖ the verification token in
    // KV (a new account has no older link to void)], then one batch (account, outbox and audit rows,
    // session, device). The mail's budget object starts before the log line, unawaited.
    expect(log.lines()[0]!.storage).toMatchObject({ d1: 2, kv: 1, durable_object: 2, round_trips: 4 });
  });

  it("logs the pattern, never the URL: mailed tokens travel in query strings", async () => {
    const log = captureRequestLines();
    const secret = "a-mailed-token-that-must-not-be-logged";
    await call(`/api/v1/auth/verify-email?token=${secret}`, { ip: freshIp() });
    await call(`/api/v1/users/me/sessions/${crypto.randomUUID()}`, { method: "DELETE" });
    const lines = log.lines();
    expect(lines.map((l) => [l.route, l.status])).toEqual([
      ["/api/v1/auth/verify-email", 400],
      ["/api/v1/users/me/sessions/:id", 401],
    ]);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it("counts a Durable Object call for a rate-limited route, and has no route for an unknown path", async () => {
    const log = captureRequestLines();
    await call("/api/v1/auth/login", { body: { email: "nobody@example.com", password: "x" }, ip: freshIp() });
    await call("/no/such/path");
    const [login, unknown] = log.lines();
    expect(login!.storage.durable_object).toBeGreaterThanOrEqual(2);
    expect(login!.user_id).toBeNull();
    expect(unknown).toMatchObject({ route: null, status: 404 });
  });
});
