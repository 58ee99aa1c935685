import type { Bindings } from "../config";

/**
 * Dev-only: storage that fails now and then, for `npm run soak` (scripts/soak.mjs). With
 * `DEV_FAULTS` set (and allowed: see local-only.ts), every call to D1 (a statement, a batch, an
 * exec), to a Durable Object (an RPC method), to KV and every send to the events queue fails before
 * it reaches the binding with the kind's probability, with the error the runtime gives when the
 * binding cannot be reached. A failed call changed nothing: these are the faults a client can
 * retry. The rates can be changed while the server runs (`PUT /api/v1/dev/faults`), and every
 * fault injected is counted and, for a request, named in its answer's `Gatehouse-Dev-Faults`
 * header (`durable_object:<object name>#<method>` says which call), so the soak knows which limiter
 * call never happened. The header also names faults of work the request began after its answer was
 * decided (settles run in `waitUntil`) when they failed before the answer left.
 *
 * The deployed entry, src/index.ts, never imports this folder: the soak runs its own entry
 * (fault-entry.ts) through a generated wrangler config.
 */
const FAULT_KINDS = ["d1", "durable_object", "kv", "queue"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultRates = Record<FaultKind, number>;

/** The rates in force and what was injected since the server started (one isolate serves `wrangler dev`). */
const state = {
  rates: { d1: 0, durable_object: 0, kv: 0, queue: 0 },
  injected: { d1: 0, durable_object: 0, kv: 0, queue: 0 } as Record<FaultKind, number>,
  /** The DEV_FAULTS value the rates were last read from: a changed variable (a restart) applies again. */
  configured: undefined as string | undefined,
};

/** `{"d1":0.02,…}`: each kind a probability from 0 to 1; kinds left out keep their rate. Undefined when malformed. */
export function parseRates(raw: unknown, base: FaultRates): FaultRates | undefined {
  let given: unknown = raw;
  if (typeof raw === "string") {
    try {
      given = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  if (typeof given !== "object" || given === null || Array.isArray(given)) return undefined;
  const rates = { ...base };
  for (const [kind, value] of Object.entries(given)) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind) || typeof value !== "number" || !(value >= 0 && value <= 1)) return undefined;
    rates[kind as FaultKind] = value;
  }
  return rates;
}

/** The rates DEV_FAULTS sets, applied once per value (a later `PUT` wins until the variable changes). */
export function applyConfiguredRates(raw: string): void {
  if (state.configured === raw) return;
  state.configured = raw;
  state.rates = parseRates(raw, state.rates) ?? state.rates;
}

export function setRates(rates: FaultRates): void {
  state.rates = rates;
}

/**
 * This isolate's own id: workerd recycles an isolate that outgrows its memory limit (128 MB) or
 * crashes, and a new one starts with a new id (and counts from zero), which is how the soak sees it.
 */
let isolate: string | undefined;

export function faultReport(): { rates: FaultRates; injected: Record<FaultKind, number>; isolate: string } {
  // Made on first use: the runtime allows no random values at the top level of a module.
  isolate ??= crypto.randomUUID();
  return { rates: { ...state.rates }, injected: { ...state.injected }, isolate };
}

/** Where a call's faults are written down: the request's list (for its header), or nothing. */
type Recorder = (fault: string) => void;

/**
 * `call()`, or with the kind's probability a rejection with the binding's own kind of error instead
 * (counted and recorded), never reaching the binding. A promise either way, as the binding's are.
 */
function guarded<T>(kind: FaultKind, what: string, record: Recorder, call: () => T): Promise<Awaited<T>> {
  return new Promise((resolve) => {
    const rate = state.rates[kind];
    if (rate > 0 && Math.random() < rate) {
      state.injected[kind] += 1;
      record(what);
      // The messages the runtime gives when the binding is unreachable (the app maps them to 503).
      throw new Error(
        kind === "durable_object"
          ? "Durable Object reset because its code was updated. (injected fault)"
          : "Network connection lost. (injected fault)",
      );
    }
    resolve(call() as Awaited<T>);
  });
}

/** `env` with D1, KV, the Durable Object namespaces and the events queue failing at the set rates. */
export function faultyBindings(env: Bindings, record: Recorder = () => undefined): Bindings {
  const bindings: Bindings = {
    ...env,
    DB: faultyD1(env.DB, record),
    AUTH_KV: faultyKv(env.AUTH_KV, record),
    RATE_LIMITER: faultyNamespace(env.RATE_LIMITER, record),
    ATTACK_MONITOR: faultyNamespace(env.ATTACK_MONITOR, record),
  };
  // Optional at run time (the cron re-drives what the queue never got).
  if ((env as Partial<Bindings>).WEBHOOKS) bindings.WEBHOOKS = faultyQueue(env.WEBHOOKS, record);
  return bindings;
}

const STATEMENT_CALLS = new Set(["first", "run", "all", "raw"]);

/**
 * A D1 binding or Sessions API session whose statements, batches and execs fail at the d1 rate.
 * Statements handed to `batch` are unwrapped to the runtime's own (it refuses stand-ins).
 */
function faultyD1<T extends D1Database | D1DatabaseSession>(d1: T, record: Recorder): T {
  const real = new WeakMap<object, D1PreparedStatement>();
  const statement = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => statement(target.bind(...args));
        if (typeof prop === "string" && STATEMENT_CALLS.has(prop)) {
          return (...args: unknown[]) => guarded("d1", "d1", record, () => (value as (...a: unknown[]) => unknown).apply(target, args));
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    real.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(d1, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      switch (prop) {
        case "prepare":
          return (query: string) => statement((target as D1Database).prepare(query));
        case "batch":
          return (statements: D1PreparedStatement[]) =>
            guarded("d1", "d1", record, () => (target as D1Database).batch(statements.map((s) => real.get(s) ?? s)));
        case "exec":
          return (query: string) => guarded("d1", "d1", record, () => (target as D1Database).exec(query));
        case "withSession":
          return (constraint?: string) => faultyD1((target as D1Database).withSession(constraint), record);
        default:
          return (value as (...a: unknown[]) => unknown).bind(target);
      }
    },
  });
}

function faultyKv(kv: KVNamespace, record: Recorder): KVNamespace {
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => guarded("kv", "kv", record, () => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

/** A namespace whose objects' RPC methods fail at the durable_object rate, recorded with the object's name. */
function faultyNamespace<N extends object>(namespace: N, record: Recorder): N {
  const names = new WeakMap<object, string>();
  return new Proxy(namespace, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (prop === "idFromName") {
        return (name: string) => {
          const id = (value as (n: string) => object).call(target, name);
          names.set(id, name);
          return id;
        };
      }
      if (prop !== "get") return (value as (...a: unknown[]) => unknown).bind(target);
      return (id: object, ...rest: unknown[]) => {
        const stub = (value as (...a: unknown[]) => object).call(target, id, ...rest);
        const name = names.get(id) ?? "?";
        return new Proxy(stub, {
          get(s, method) {
            const member = Reflect.get(s, method, s) as unknown;
            if (typeof member !== "function" || method === "then") return member;
            // Reflect.apply, not member.apply: an RPC stub answers every property name with a remote method.
            return (...args: unknown[]) =>
              guarded("durable_object", `durable_object:${name}#${String(method)}`, record, () =>
                Reflect.apply(member as (...a: unknown[]) => unknown, s, args),
              );
          },
        });
      };
    },
  });
}

function faultyQueue(queue: Queue, record: Recorder): Queue {
  return {
    send: (...args: Parameters<Queue["send"]>) => guarded("queue", "queue", record, () => queue.send(...args)),
    sendBatch: (...args: Parameters<Queue["sendBatch"]>) => guarded("queue", "queue", record, () => queue.sendBatch(...args)),
  } as Queue;
}
