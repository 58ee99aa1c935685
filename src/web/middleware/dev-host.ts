import { createMiddleware } from "hono/factory";
import { readConfig } from "../../config";
import { isLoopbackHost } from "../../config/dev";
import { AppError } from "../../errors";
import type { AppEnv } from "../context";

/**
 * In dev mode (`DEV_OUTBOX`, which `npm run dev` and the tests switch on) the worker answers only
 * requests addressed to this machine: a loopback host (`localhost`, `127.0.0.1` and the rest of
 * 127/8, `[::1]`, and `0.0.0.0`), a `*.localhost` name (loopback by definition, RFC 6761), or the host of
 * `PUBLIC_URL` (what the configuration says the worker is; the tests use it). Any other `Host` is
 * refused with 403 `host_not_allowed`, so a DNS-rebinding page (evil.example re-pointed at
 * 127.0.0.1) cannot read the dev outbox or act with a developer's local sessions: its requests
 * carry its own name. Outside dev mode nothing is checked (Cloudflare routes by hostname).
 */
export function createDevHostGuard() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const config = readConfig(c.env);
    if (config.devOutbox && !isDevHost(hostOf(c.req.raw), new URL(config.publicUrl).hostname)) {
      throw new AppError("host_not_allowed");
    }
    await next();
  });
}

/** The name the client addressed: the Host header, else the URL's host (the runtime builds one from the other). */
function hostOf(request: Request): string {
  const host = request.headers.get("host") ?? new URL(request.url).host;
  // Parse as a URL authority: lower-cases, drops the port, canonicalises IPv4/IPv6 spellings.
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return "";
  }
}

/** Whether `hostname` (URL-canonical: lower case, IPv6 in brackets) is one dev mode answers. */
export function isDevHost(hostname: string, publicHost: string): boolean {
  if (hostname === "") return false;
  // `wrangler dev --ip 0.0.0.0` prints http://0.0.0.0:…, and browsers and curl send that literal; an
  // address literal is never a rebinding name (a page at another name cannot send it as its Host).
  return hostname === publicHost || hostname === "0.0.0.0" || isLoopbackHost(hostname);
}
