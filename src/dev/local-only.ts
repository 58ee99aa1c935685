import type { Config } from "../config";
import { isLoopbackHost } from "../config/dev";

/**
 * Whether a dev-only switch (the geo simulation, fault injection) may act: only with the dev outbox
 * on (`DEV_OUTBOX`, never set by wrangler.toml), a loopback `PUBLIC_URL` (a deploy needs its public
 * address there, or mailed links break) and, for a request, one addressed to a loopback host
 * (Cloudflare never routes one to a worker). The queue and cron handlers have no request.
 */
export function localDevOnly(config: Config, request: Request | null): boolean {
  return (
    config.devOutbox &&
    isLoopbackHost(new URL(config.publicUrl).hostname) &&
    (request === null || isLoopbackHost(new URL(request.url).hostname))
  );
}
