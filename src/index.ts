import { app } from "./app";
import type { Bindings } from "./config";
import { createDeps } from "./kernel/deps";
import { deliverBatch } from "./events/delivery";
import { runEventRedrive, runScheduledMaintenance } from "./maintenance/scheduled";

export { RateLimiter } from "./abuse/objects/rate-limiter";
export { AttackMonitor } from "./abuse/objects/attack-monitor";

/** The daily clean-up's trigger in wrangler.toml; every other trigger (every five minutes) re-drives events. */
const DAILY_CRON = "17 3 * * *";

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    const now = new Date(controller.scheduledTime);
    ctx.waitUntil(controller.cron === DAILY_CRON ? runScheduledMaintenance(env, now) : runEventRedrive(env, now));
  },
  async queue(batch, env, ctx) {
    const deps = createDeps(env, {
      meta: { ip: null, userAgent: null, requestId: crypto.randomUUID() },
      waitUntil: (p) => ctx.waitUntil(p),
    });
    await deliverBatch(deps, batch);
  },
} satisfies ExportedHandler<Bindings>;
