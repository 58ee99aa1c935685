import { AsyncLocalStorage } from "node:async_hooks";
import type { Bindings } from "../config";
import { readConfig } from "../config";
import worker from "../index";
import { applyConfiguredRates, faultReport, faultyBindings, parseRates, setRates } from "./fault-injection";
import { allowedLocally } from "./local-only";

export { AttackMonitor, RateLimiter } from "../index";

/** Reads and sets the rates, and reports what was injected: `GET`/`PUT`, JSON. */
const CONTROL_PATH = "/api/v1/dev/faults";
/** On an answer: the faults injected while it was being made, comma-separated. */
const FAULTS_HEADER = "Gatehouse-Dev-Faults";

/**
 * Where a fault is recorded: the request being answered (its `Gatehouse-Dev-Faults` header).
 * Asked at the moment of the fault, so the failing bindings can be one object per `env` for the
 * isolate's life, as the runtime's own are: the configuration, the credential-read cache and the
 * verified-token cache are kept per bindings object, and a new one per request made every request
 * parse the configuration again and every cache entry hold a copy of it (the soak's heap grew by
 * 5 KB a request for that alone). Needs the `nodejs_als` flag, which only the soak's config sets.
 */
const currentRequest = new AsyncLocalStorage<(fault: string) => void>();
const failing = new WeakMap<Bindings, Bindings>();

/**
 * The bindings the handlers should use: `env` itself unless DEV_FAULTS is set and allowed
 * (local-only.ts), else `env` with failing storage (fault-injection.ts).
 */
function bindingsFor(env: Bindings, request: Request | null): Bindings {
  const config = readConfig(env);
  const raw = config.devFaults;
  if (!raw) return env;
  if (!allowedLocally(config, request, "dev.faults_refused")) return env;
  applyConfiguredRates(raw);
  let bindings = failing.get(env);
  if (!bindings) {
    bindings = faultyBindings(env, (fault) => currentRequest.getStore()?.(fault));
    failing.set(env, bindings);
  }
  return bindings;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });

async function control(request: Request): Promise<Response> {
  if (request.method === "PUT") {
    const rates = parseRates(await request.json().catch(() => null), faultReport().rates);
    if (!rates) return json({ error: "a JSON object of d1, durable_object, kv, queue: each a number from 0 to 1" }, 422);
    setRates(rates);
  } else if (request.method !== "GET") {
    return new Response(null, { status: 405, headers: { Allow: "GET, PUT" } });
  }
  return json(faultReport());
}

/**
 * The worker as `npm run soak` runs it: scripts/soak.mjs points its wrangler config's `main` here.
 * The deployed entry, src/index.ts, never imports this folder, so fault injection is neither in the
 * bundle nor on any request's path.
 */
export default {
  ...worker,
  async fetch(request, env, ctx) {
    const bindings = bindingsFor(env, request);
    if (bindings === env) return worker.fetch(request, env, ctx);
    if (new URL(request.url).pathname === CONTROL_PATH) return control(request);
    const injected: string[] = [];
    const response = await currentRequest.run(
      (fault) => injected.push(fault),
      () => worker.fetch(request, bindings, ctx),
    );
    if (injected.length === 0) return response;
    const answer = new Response(response.body, response);
    answer.headers.set(FAULTS_HEADER, injected.join(", "));
    return answer;
  },
  queue: (batch, env, ctx) => worker.queue(batch, bindingsFor(env, null), ctx),
  scheduled: (controller, env, ctx) => worker.scheduled(controller, bindingsFor(env, null), ctx),
} satisfies ExportedHandler<Bindings>;
