import type { Bindings } from "../config";
import { readConfig } from "../config";
import worker from "../index";
import { simulatedBindings } from "./geo-simulation";

export { AttackMonitor, RateLimiter } from "../index";

/**
 * The worker as `npm run bench -- --geo` runs it: scripts/bench-geo.mjs points its wrangler config's
 * `main` here, and every request's bindings are wrapped by the far-from-primary simulation
 * (geo-simulation.ts). The deployed entry, src/index.ts, never imports this folder, so the
 * simulation is neither in the bundle nor on any request's path.
 */
export default {
  ...worker,
  fetch: (request, env, ctx) => worker.fetch(request, simulatedBindings(env, readConfig(env), request), ctx),
} satisfies ExportedHandler<Bindings>;
