import type { LimiterRpc, MonitorRpc } from "./objects";
import { readConfig, type Bindings, type Config } from "../config";
import type { Locale } from "../config/languages";
import { guardKv, type Db } from "../db/client";
import { createDatabases, type ReplicaReads } from "../db/replica-reads";
import { DependencyError } from "../errors";
import { logAudit } from "../audit/audit";
import { UnitOfWork } from "../db/unit-of-work";
import { enqueueEvents } from "../events/events";
import { loadKeySet, type KeySet } from "./signing-keys";
import { StorageMeter } from "../storage-meter";

/** Who is asking: recorded on sessions and audit rows. */
interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
  /** Cloudflare's coarse location of the client (`request.cf`), when the runtime gave one. */
  place?: RequestPlace | null;
  /**
   * The language the request asks for (`gh_lang` cookie, `Accept-Language`, DEFAULT_LOCALE): what
   * mail to an address without an account speaks. Pages and mail to an account decide with more.
   */
  locale?: Locale;
}

/** The parts of `request.cf` the sign-in signals use; every field may be missing. */
export interface RequestPlace {
  country: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  timezone: string | null;
  asn: number | null;
}

/**
 * An object's RPC surface as plain promises. The generated stub types turn union results into
 * unions of promises that TypeScript cannot await as one type; the values are plain data either way.
 */
type Stub<Rpc> = { [K in keyof Rpc]: Rpc[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };

/** The RateLimiter's stub (see kernel/objects.ts). */
export type LimiterStub = Stub<LimiterRpc>;

/** The AttackMonitor's stub. */
type MonitorStub = Stub<MonitorRpc>;

/**
 * Everything a service needs, built once per request: storage (already fail-closed and metered),
 * configuration, the clock, the signing keys, who is asking, the limiter objects and the outbound
 * `fetch`. Services take this as their first argument and never touch `env` or Hono.
 */
export interface Deps {
  /** The D1 primary (a `first-primary` Sessions API session, so writes yield a bookmark). */
  db: Db;
  /** Credential-state reads near the user: isolate cache, read replica, primary (db/replica-reads.ts). */
  replicas: ReplicaReads;
  kv: KVNamespace;
  /** The static assets: the message catalogues (src/i18n). Absent only where a test leaves it out. */
  assets: Fetcher | undefined;
  config: Config;
  now: () => Date;
  keys: () => Promise<KeySet>;
  meta: RequestMeta;
  /** Runs one call on the named RateLimiter object; unreachable → DependencyError (503). */
  limiter: <T>(name: string, call: (stub: LimiterStub) => Promise<T>) => Promise<T>;
  /** The same for the password-spraying objects (src/abuse/objects/attack-monitor.ts). */
  attackMonitor: <T>(name: string, call: (stub: MonitorStub) => Promise<T>) => Promise<T>;
  /** Every outbound HTTP call goes through this, so tests can inject a fake. */
  fetch: typeof fetch;
  /** The events queue's producer (src/events): event ids go here after the response. */
  webhooks: Queue | undefined;
  /** Work that may finish after the response (mail, best-effort bookkeeping). */
  waitUntil: (promise: Promise<unknown>) => void;
  /** The request's storage calls, for its log line. */
  meter: StorageMeter;
  /**
   * A unit of work on the primary (db/unit-of-work.ts): statements, audit rows and events of one
   * change, written as one batch; once it committed, its audit rows are logged and its events queued.
   */
  work: () => UnitOfWork;
}

/**
 * How long after-response work waits before it starts. `waitUntil` alone starts the work at once,
 * on the same thread as the response's last steps, so its cost (a lookup's continuation, a token,
 * a mail) shows as latency of only those responses that cause it: for forgot-password, of the
 * addresses that have an account. A few tens of milliseconds is far beyond the time a response
 * needs to leave the worker; `npm run bench` measures the known/unknown difference.
 */
const AFTER_RESPONSE_DELAY_MS = 50;

/**
 * Runs `task` once the response has gone out (see {@link AFTER_RESPONSE_DELAY_MS}), still within the
 * request's `waitUntil`. For work whose very existence must not show in the answer's timing.
 */
export function afterResponse(deps: Pick<Deps, "waitUntil">, task: () => Promise<unknown>): void {
  deps.waitUntil(scheduler.wait(AFTER_RESPONSE_DELAY_MS).then(task));
}

export interface DepsOptions {
  meta: RequestMeta;
  /** The D1 bookmark the client carried (`Gatehouse-Bookmark`): its replica reads are at least that new. */
  bookmark?: string | null;
  waitUntil: (promise: Promise<unknown>) => void;
  now?: () => Date;
  fetch?: typeof fetch;
}

export function createDeps(env: Bindings, options: DepsOptions): Deps {
  const config = readConfig(env);
  const meter = new StorageMeter();
  const databases = createDatabases(env, env.DB, meter, options.bookmark ?? null);
  const now = options.now ?? (() => new Date());
  const objectCall =
    <S>(namespace: Pick<DurableObjectNamespace, "idFromName"> & { get(id: DurableObjectId): unknown }) =>
    <T>(name: string, call: (stub: S) => Promise<T>): Promise<T> =>
      meter.track("durable_object", async () => {
        try {
          return await call(namespace.get(namespace.idFromName(name)) as S);
        } catch (error) {
          throw new DependencyError("durable_object", error);
        }
      });
  const deps: Deps = {
    // On first use (see createDatabases).
    get db() {
      return databases.db;
    },
    replicas: databases.replicas,
    kv: guardKv(env.AUTH_KV, meter),
    assets: (env as Partial<Bindings>).ASSETS,
    config,
    now,
    keys: () => loadKeySet(() => databases.db, config, now().getTime(), options.waitUntil),
    meta: options.meta,
    limiter: objectCall<LimiterStub>(env.RATE_LIMITER),
    attackMonitor: objectCall<MonitorStub>(env.ATTACK_MONITOR),
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    // Optional at run time: a deployment whose queue is missing keeps serving; the cron re-drives.
    webhooks: (env as Partial<Bindings>).WEBHOOKS,
    waitUntil: options.waitUntil,
    meter,
    work: () =>
      new UnitOfWork(databases.db, {
        afterCommit: ({ audit, events }) => {
          for (const row of audit) logAudit(deps, row);
          enqueueEvents(deps, events);
        },
      }),
  };
  return deps;
}
