import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";

/** Test helpers: talk to the worker over HTTP exactly as a client would. */

export const BASE = "https://auth.example.com";

let ipCounter = 0;
/** A fresh client IP per call, so per-IP limits of one test never leak into another. */
export function freshIp(): string {
  ipCounter += 1;
  return `198.51.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  token?: string;
  ip?: string;
  headers?: Record<string, string>;
}

/** The request a client would send: JSON body, bearer credential, a client IP as Cloudflare sets it. */
export function buildRequest(path: string, options: CallOptions = {}): Request {
  const headers: Record<string, string> = { "CF-Connecting-IP": options.ip ?? "203.0.113.1", ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
  }
  return new Request(`${BASE}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body });
}

export function call(path: string, options: CallOptions = {}): Promise<Response> {
  return exports.default.fetch(buildRequest(path, options));
}

let userCounter = 0;
export function uniqueEmail(prefix = "user"): string {
  userCounter += 1;
  return `${prefix}.${Date.now().toString(36)}.${userCounter}@example.com`;
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
  const body = (await res.json()) as Record<string, unknown>;
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

export async function login(credentials: Record<string, unknown>, ip = freshIp()): Promise<Response> {
  return call("/api/v1/auth/login", { body: credentials, ip });
}

export interface OutboxMessage {
  to: string;
  kind: string;
  subject: string;
  text: string;
  token: string | null;
  created_at: string;
}

/**
 * Mail is delivered after the response (waitUntil), so the outbox is polled briefly until
 * `count` messages of `kind` have arrived.
 */
export async function outbox(to: string, kind?: string, count = 1): Promise<OutboxMessage[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await call(`/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
    const { messages } = (await res.json()) as { messages: OutboxMessage[] };
    const matching = kind ? messages.filter((m) => m.kind === kind) : messages;
    if (matching.length >= count) return matching;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return [];
}

export async function problem(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.type).toBe(`urn:gatehouse:problem:${code}`);
  expect(typeof body.request_id).toBe("string");
  return body;
}

export { env };
