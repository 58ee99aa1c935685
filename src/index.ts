import { app } from "./app";
import type { Bindings } from "./env";
import { runScheduledMaintenance } from "./scheduled";

export { RateLimiter } from "./durable-objects/rate-limiter";

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduledMaintenance(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Bindings>;
