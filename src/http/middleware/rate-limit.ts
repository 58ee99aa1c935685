import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Context, Next } from "hono";
import { enforceIpLimit } from "../../abuse/ip-limits";
import type { IpAction } from "../../config/rate-limits";
import type { AppEnv } from "../../web/context";

/**
 * Counts the request against the client IP's `action` limits before `handler` runs (429 when a
 * limit is spent). It wraps the route's handler rather than sitting in the route's middleware list
 * because route middleware runs before validation, and a request that fails validation must not use
 * up the client's budget: it changes nothing, so it costs nothing. `route` only types the handler.
 */
export function limitPerIp<R extends RouteConfig>(action: IpAction, _route: R, handler: RouteHandler<R, AppEnv>): RouteHandler<R, AppEnv> {
  return (async (c: Context<AppEnv>, next: Next) => {
    await enforceIpLimit(c.var.deps, action);
    return (handler as unknown as (c: Context<AppEnv>, next: Next) => unknown)(c, next);
  }) as unknown as RouteHandler<R, AppEnv>;
}
