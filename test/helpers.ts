import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { Bindings } from "../src/config";
import { app } from "../src/app";
import { assertMatchesContract } from "./contract";

/** Test helpers: talk to the worker over HTTP exactly as a client would. */

const BASE = "https://auth.example.com";

/**
 * Counters behind {@link freshIp} and {@link uniqueEmail}. Every test file shares one worker and its
 * storage (`isolate: false`), so they live on globalThis: they keep counting even if this module is
 * evaluated again (a watch-mode rerun) while the storage from earlier runs is still there.
 */
const counters = ((globalThis as { __gatehouseTestCounters?: { ip: number; user: number; network: number } }).__gatehouseTestCounters ??= {
  ip: 0,
  user: 0,
  network: 0,
});

/** A fresh client IP per call, so per-IP limits of one test never leak into another (2^24 of them). */
export function freshIp(): string {
  const n = (counters.ip += 1);
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * A fresh client IP in a network (IPv4 /24) no other call gave, for tests of breadth across client
 * networks (the spraying signal): `freshIp()` hands out 256 addresses of one /24 in a row.
 */
export function freshNetworkIp(): string {
  const n = (counters.network += 1);
  return `100.${64 + ((n >> 8) & 63)}.${n & 255}.1`;
}

export interface CallOptions {
  method?: string;
  /** Sent as JSON unless it is a string; a ReadableStream is streamed as is (no Content-Length). */
  body?: unknown;
  token?: string;
  /** The client IP as Cloudflare sets it in CF-Connecting-IP; `null` sends no such header. */
  ip?: string | null;
  headers?: Record<string, string>;
  /**
   * Bindings replaced for this one request: a configuration variant or a broken binding. A value
   * of `undefined` unsets a variable (its production default applies).
   */
  env?: Partial<Bindings>;
  /**
   * The whole bindings object, used as given (`env` is then ignored). The worker keeps per-isolate
   * caches keyed by its bindings object (src/db/replica-reads.ts), so calls passing one object share
   * them, like requests reaching one isolate, while every `env` variant is an isolate of its own.
   */
  bindings?: Bindings;
}

/**
 * The request a client would send: JSON body, bearer credential, a client IP as Cloudflare sets
 * it. `path` is resolved against {@link BASE}, so a full URL (another host) works too.
 */
export function buildRequest(path: string, options: CallOptions = {}): Request {
  const ip = options.ip === undefined ? "203.0.113.1" : options.ip;
  const headers: Record<string, string> = { ...(ip === null ? {} : { "CF-Connecting-IP": ip }), ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const init: RequestInit & { duplex?: "half" } = { method: options.method, headers };
  if (options.body instanceof ReadableStream) {
    init.body = options.body;
    init.duplex = "half";
  } else if (options.body !== undefined) {
    init.body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  }
  if (init.body !== undefined) headers["Content-Type"] ??= "application/json";
  init.method ??= init.body !== undefined ? "POST" : "GET";
  return new Request(new URL(path, BASE), init);
}

/**
 * The one way tests talk to the worker over HTTP. It calls the app with its own execution context
 * and waits for that context, so when the promise resolves the request's after-response work
 * (mail, bookkeeping in `waitUntil`) has finished too and a test can read storage at once.
 */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const request = buildRequest(path, options);
  // A fresh env object per variant: the configuration is parsed (and cached) per env object.
  const bindings: Bindings = options.bindings ?? (options.env ? { ...env, ...options.env } : env);
  const ctx = createExecutionContext();
  const response = await app.fetch(request, bindings, ctx);
  await waitOnExecutionContext(ctx);
  // Every response of every test must be one its route declares (see contract.ts).
  await assertMatchesContract(request, response);
  return response;
}

/**
 * The RateLimiter namespace with each object name the worker asks for prefixed by a name of this
 * test's own: the real objects, but ones no other test reaches. For tests of a bucket the whole
 * suite would otherwise share, such as `ip:unknown` (every request without CF-Connecting-IP).
 * `names` lists the object names the worker asked for, unprefixed, in order.
 */
export function ownLimiterObjects(): { RATE_LIMITER: Bindings["RATE_LIMITER"]; names: string[] } {
  const scope = crypto.randomUUID();
  const names: string[] = [];
  const RATE_LIMITER = new Proxy(env.RATE_LIMITER, {
    get(target, prop) {
      if (prop === "idFromName") {
        return (name: string) => {
          names.push(name);
          return target.idFromName(`${scope}/${name}`);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { RATE_LIMITER, names };
}

/** An address no other test (or earlier run against the same storage) has used. */
export function uniqueEmail(prefix = "user"): string {
  const n = (counters.user += 1);
  return `${prefix}.${Date.now().toString(36)}.${n}@example.com`;
}

export const STRONG_PASSWORD = "correct horse battery staple 42";

export interface Registered {
  email: string;
  password: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
  body: Record<string, unknown>;
}

export async function register(overrides: Record<string, unknown> = {}): Promise<Registered> {
  const email = (overrides.email as string | undefined) ?? uniqueEmail();
  const password = (overrides.password as string | undefined) ?? STRONG_PASSWORD;
  const res = await call("/api/v1/auth/register", {
    body: { email, password, full_name: "Test User", ...overrides },
    ip: freshIp(),
  });
  const body = await res.json<Record<string, unknown>>();
  expect(res.status, JSON.stringify(body)).toBe(201);
  return {
    email,
    password,
    userId: (body.user as { id: string }).id,
    accessToken: body.access_token as string,
    refreshToken: body.refresh_token as string,
    body,
  };
}

/** A fresh account made a superuser straight in D1 (the admin API needs one to start from). */
export async function superuser(): Promise<Registered> {
  const admin = await register();
  await env.DB.prepare("UPDATE users SET is_superuser = 1 WHERE id = ?").bind(admin.userId).run();
  return admin;
}

/**
 * Makes `ids` the only superusers (every other one is demoted) for a check of the "last active
 * superuser" rule, which is global; the returned function gives the others their flag back.
 */
export async function onlySuperusers(...ids: string[]): Promise<() => Promise<void>> {
  const marks = ids.map(() => "?").join(",");
  await env.DB.prepare(`UPDATE users SET is_superuser = 1 WHERE id IN (${marks})`)
    .bind(...ids)
    .run();
  const { results } = await env.DB.prepare(`UPDATE users SET is_superuser = 0 WHERE is_superuser = 1 AND id NOT IN (${marks}) RETURNING id`)
    .bind(...ids)
    .all<{ id: string }>();
  const others = results.map((r) => r.id);
  return async () => {
    if (others.length === 0) return;
    await env.DB.prepare(`UPDATE users SET is_superuser = 1 WHERE id IN (${others.map(() => "?").join(",")})`)
      .bind(...others)
      .run();
  };
}

/** One `audit_logs` row as stored (snake_case columns), its metadata JSON parsed (`{}` when none). */
export interface AuditRow {
  id: string;
  action: string;
  user_id: string | null;
  actor_user_id: string | null;
  resource: string | null;
  ip_address: string | null;
  user_agent: string | null;
  metadata: Record<string, unknown>;
  created_at: number;
}

/**
 * The audit rows matching `where` (an SQL condition over `audit_logs`, its `?` bound to `bindings`),
 * oldest first. Scope it to the test's own user or IP: the storage is shared by every test file.
 */
export async function auditRows(where: string, ...bindings: unknown[]): Promise<AuditRow[]> {
  const { results } = await env.DB.prepare(`SELECT * FROM audit_logs WHERE ${where} ORDER BY created_at, rowid`)
    .bind(...bindings)
    .all<Omit<AuditRow, "metadata"> & { metadata: string | null }>();
  return results.map((row) => ({ ...row, metadata: JSON.parse(row.metadata ?? "{}") as Record<string, unknown> }));
}

export async function login(credentials: Record<string, unknown>, ip = freshIp()): Promise<Response> {
  return call("/api/v1/auth/login", { body: credentials, ip });
}

export interface OutboxMessage {
  to: string;
  kind: string;
  locale: string;
  subject: string;
  text: string;
  token: string | null;
  created_at: string;
}

/**
 * The dev outbox for `to` (newest first), optionally only mail of `kind`. Mail is delivered in
 * `waitUntil`, which {@link call} has already waited for, so one read sees every message sent.
 */
export async function outbox(to: string, kind?: string): Promise<OutboxMessage[]> {
  const res = await call(`/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
  expect(res.status).toBe(200);
  const { messages } = await res.json<{ messages: OutboxMessage[] }>();
  return kind ? messages.filter((m) => m.kind === kind) : messages;
}

export async function problem(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const body = await res.json<Record<string, unknown>>();
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.type).toBe(`urn:gatehouse:problem:${code}`);
  expect(typeof body.request_id).toBe("string");
  return body;
}

/** Reads one user row straight from D1 (snake_case columns, as stored). */
export async function userRow(email: string): Promise<Record<string, unknown> | null> {
  return env.DB.prepare("SELECT * FROM users WHERE email = ?").bind(email.toLowerCase()).first();
}

/** One structured log line of the worker (src/log.ts). */
interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  event: string;
  [field: string]: unknown;
}

/** What the worker logged while captured: {@link captureLogs}. */
export interface CapturedLogs {
  /** Every captured line as it would have been printed, for "contains no secret" checks. */
  readonly text: () => string;
  /** The lines written with console.warn and console.error, parsed, in order. */
  readonly problems: () => LogLine[];
}

/**
 * Captures the worker's console output from now until `vi.restoreAllMocks()`, so a test that
 * provokes a failure asserts on the error lines it expects instead of printing them.
 */
export function captureLogs(): CapturedLogs {
  const lines: { method: "log" | "warn" | "error"; text: string }[] = [];
  for (const method of ["log", "warn", "error"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push({ method, text: args.map(String).join(" ") }));
  }
  const parse = (method: "warn" | "error", text: string): LogLine => {
    try {
      return JSON.parse(text) as LogLine;
    } catch {
      // Not one of the worker's structured lines: keep it visible to the assertion.
      return { level: method, event: "unstructured", text };
    }
  };
  return {
    text: () => lines.map((l) => l.text).join("\n"),
    problems: () => lines.flatMap(({ method, text }) => (method === "log" ? [] : [parse(method, text)])),
  };
}

export { env };
