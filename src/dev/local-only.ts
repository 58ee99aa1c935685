import type { Config } from "../config";
import { isLoopbackHost } from "../config/dev";
import { log } from "../log";

/**
 * Whether a dev-only switch (the geo simulation, fault injection) may act: only with the dev outbox
 * on (`DEV_OUTBOX`, never set by wrangler.toml), a loopback `PUBLIC_URL` (a deploy needs its public
 * address there, or mailed links break) and, for a request, one addressed to a loopback host
 * (Cloudflare never routes one to a worker). The queue and cron handlers have no request.
 */
function localDevOnly(config: Config, request: Request | null): boolean {
  return (
    config.devOutbox &&
    isLoopbackHost(new URL(config.publicUrl).hostname) &&
    (request === null || isLoopbackHost(new URL(request.url).hostname))
  );
}

/** The refusals already logged: each switch says once per isolate why it does nothing. */
const refusalsLogged = new Set<string>();

/** {@link localDevOnly}, logging `refusedEvent` (once) when the switch is set but may not act. */
export function allowedLocally(config: Config, request: Request | null, refusedEvent: string): boolean {
  if (localDevOnly(config, request)) return true;
  if (!refusalsLogged.has(refusedEvent))
    log("warn", refusedEvent, { reason: "needs DEV_OUTBOX, a loopback PUBLIC_URL and a loopback request" });
  refusalsLogged.add(refusedEvent);
  return false;
}
