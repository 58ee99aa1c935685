import { app } from "./http/app";
import type { Bindings } from "./config";
import { runScheduledMaintenance } from "./maintenance/scheduled";

export { RateLimiter } from "./abuse/rate-limiter";

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduledMaintenance(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Bindings>;
