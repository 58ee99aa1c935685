import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { createDeps } from "../../deps";

/**
 * Builds the per-request service dependencies and the caller's metadata. The client IP comes only
 * from `CF-Connecting-IP` (set by Cloudflare); X-Forwarded-For and friends are client-controlled
 * and ignored.
 */
export function createRequestContext() {
  return createMiddleware<AppEnv>(async (c, next) => {
    let waitUntil: (p: Promise<unknown>) => void;
    try {
      const ctx = c.executionCtx;
      waitUntil = (p) => ctx.waitUntil(p);
    } catch {
      // No execution context (a direct app.fetch in a unit test): keep the promise alive ourselves.
      waitUntil = (p) => void p.catch(() => undefined);
    }
    c.set("deps", createDeps(c.env, waitUntil));
    c.set("meta", {
      ip: c.req.header("cf-connecting-ip")?.trim().slice(0, 64) || null,
      userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
      requestId: c.get("requestId"),
    });
    await next();
  });
}
