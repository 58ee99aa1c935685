import type { Bindings, Config } from "../config";
import { log } from "../log";
import { allowedLocally } from "./local-only";

/**
 * Dev-only: what a user far from the D1 primary pays (`npm run bench -- --geo`). With
 * `DEV_GEO_SIMULATION` set, each request's bindings are wrapped so that every call costs what it
 * would cost far away and serves what a far location would see:
 *
 * - D1 without the Sessions API: the primary, `primary_ms` per call (a batch is one call).
 * - D1 through `withSession`: reads go to a replica (`replica_ms`) that holds the primary's state
 *   as of `lag_ms` ago, unless the session's bookmark is newer than that, when they go to the primary.
 *   The replica is a second local database (binding `GEO_REPLICA`, added by the bench's config)
 *   onto which every write that went through the primary is replayed once it is `lag_ms` old.
 *   Writes always go to the primary.
 * - KV: `kv_near_ms` for a key this location read within its `cacheTtl` (60 s by default, as in
 *   KV), which is then served from the location's cache even if it changed since, `kv_far_ms`
 *   otherwise; a write updates the writer's location at once and other locations only when their
 *   cached copy expires.
 * - Durable Objects: `do_ms` per call, or `do_far_ms` for a request with
 *   `Gatehouse-Dev-DO-Placement: far` (objects placed far from the user).
 *
 * A "location" is the request header `Gatehouse-Dev-Location`; each has its own KV cache, and its
 * own bindings object, so per-isolate caches keyed by the bindings are per location too.
 *
 * It cannot switch on in a deploy: it needs the dev outbox (`DEV_OUTBOX`, never set by
 * wrangler.toml), a loopback `PUBLIC_URL` (a deploy needs its public address there, or mailed links
 * break) and a request addressed to a loopback host (Cloudflare never routes one to a worker).
 * Where any of these fails, the variable is ignored and a warning logged.
 */
interface GeoSettings {
  primaryMs: number;
  replicaMs: number;
  lagMs: number;
  kvNearMs: number;
  kvFarMs: number;
  doMs: number;
  doFarMs: number;
}

const DEFAULTS: GeoSettings = { primaryMs: 250, replicaMs: 30, lagMs: 1000, kvNearMs: 10, kvFarMs: 80, doMs: 15, doFarMs: 150 };
const KV_DEFAULT_CACHE_TTL_S = 60;
const LOCATION_HEADER = "gatehouse-dev-location";
const PLACEMENT_HEADER = "gatehouse-dev-do-placement";

function parseSettings(raw: string): GeoSettings {
  if (raw === "true" || raw === "on" || raw === "1") return DEFAULTS;
  const given = JSON.parse(raw) as Record<string, unknown>;
  const pick = (name: string, fallback: number) => {
    const value = given[name];
    return typeof value === "number" && value >= 0 ? value : fallback;
  };
  return {
    primaryMs: pick("primary_ms", DEFAULTS.primaryMs),
    replicaMs: pick("replica_ms", DEFAULTS.replicaMs),
    lagMs: pick("lag_ms", DEFAULTS.lagMs),
    kvNearMs: pick("kv_near_ms", DEFAULTS.kvNearMs),
    kvFarMs: pick("kv_far_ms", DEFAULTS.kvFarMs),
    doMs: pick("do_ms", DEFAULTS.doMs),
    doFarMs: pick("do_far_ms", DEFAULTS.doFarMs),
  };
}

/**
 * The bindings a request should use: `env` itself unless the simulation is switched on and allowed
 * (see above), else the wrapped bindings of the request's location (one object per location).
 */
export function simulatedBindings(env: Bindings, config: Config, request: Request): Bindings {
  const raw = config.devGeoSimulation;
  if (!raw) return env;
  if (!allowedLocally(config, request, "dev.geo_simulation_refused")) return env;
  const location = request.headers.get(LOCATION_HEADER)?.slice(0, 40) || "default";
  let world = worlds.get(env);
  if (!world) {
    world = new World(env, parseSettings(raw));
    worlds.set(env, world);
  }
  return world.at(location, request.headers.get(PLACEMENT_HEADER) === "far");
}

const worlds = new WeakMap<object, World>();

interface LoggedStatement {
  sql: string;
  params: unknown[];
}

/** The one primary, the replica's replay log and every location's KV cache. */
class World {
  private readonly locations = new Map<string, Bindings>();
  /** Writes applied to the primary, in order; `seq` is the bookmark. */
  private readonly writes: { seq: number; at: number; statements: LoggedStatement[] }[] = [];
  private seq = 0;
  private replayed = 0;
  private replaying: Promise<void> = Promise.resolve();
  readonly kvCaches = new Map<string, Map<string, { value: string | null; until: number }>>();

  constructor(
    readonly env: Bindings,
    readonly settings: GeoSettings,
  ) {
    if (!this.replica) log("warn", "dev.geo_simulation_no_replica", { detail: "no GEO_REPLICA binding: replica reads see the primary" });
  }

  get replica(): D1Database | undefined {
    return (this.env as Bindings & { GEO_REPLICA?: D1Database }).GEO_REPLICA;
  }

  at(location: string, farObjects: boolean): Bindings {
    const name = `${location}${farObjects ? "|far-do" : ""}`;
    let bindings = this.locations.get(name);
    if (!bindings) {
      bindings = {
        ...this.env,
        DB: new GeoD1(this, null) as unknown as D1Database,
        AUTH_KV: geoKv(this, location),
        RATE_LIMITER: geoNamespace(this.env.RATE_LIMITER, farObjects ? this.settings.doFarMs : this.settings.doMs),
        // One monitor for the whole deployment: far from most users (logins ask it at most every 10 s, alongside their first call).
        ATTACK_MONITOR: geoNamespace(this.env.ATTACK_MONITOR, this.settings.doFarMs),
      };
      this.locations.set(name, bindings);
    }
    return bindings;
  }

  get latest(): number {
    return this.seq;
  }

  recordWrite(statements: LoggedStatement[]): number {
    this.seq += 1;
    this.writes.push({ seq: this.seq, at: Date.now(), statements });
    return this.seq;
  }

  /** The newest write a replica holds now: every write at least `lag_ms` old. */
  replicaPosition(): number {
    const cutoff = Date.now() - this.settings.lagMs;
    let position = this.replayed;
    for (const write of this.writes) {
      if (write.seq > position && write.at <= cutoff) position = write.seq;
      if (write.at > cutoff) break;
    }
    return position;
  }

  /** Replays the log onto the replica database up to `position`, one write at a time, in order. */
  catchUp(position: number): Promise<void> {
    const replica = this.replica;
    if (!replica) return Promise.resolve();
    this.replaying = this.replaying.then(async () => {
      while (this.writes.length > 0 && this.writes[0]!.seq <= position) {
        const write = this.writes.shift()!;
        try {
          await replica.batch(write.statements.map((s) => replica.prepare(s.sql).bind(...s.params)));
        } catch (error) {
          log("warn", "dev.geo_replay_failed", { message: String(error).slice(0, 200) });
        }
        this.replayed = write.seq;
      }
    });
    return this.replaying;
  }
}

const wait = (ms: number) => (ms > 0 ? scheduler.wait(ms) : Promise.resolve());

const isRead = (sql: string) => /^\s*select\b/i.test(sql);

type Run = "first" | "run" | "all" | "raw";

/**
 * The D1 binding (`session` null) or one `withSession` session of it. Bookmarks are `geo:<seq>`,
 * the position in the write log, so they sort like D1's.
 */
class GeoD1 {
  private bookmark = 0;
  private primaryFirst: boolean;

  constructor(
    private readonly world: World,
    session: { bookmark: number; primaryFirst: boolean } | null,
  ) {
    this.session = session !== null;
    this.bookmark = session?.bookmark ?? 0;
    this.primaryFirst = session?.primaryFirst ?? false;
  }

  private readonly session: boolean;

  prepare(sql: string): GeoStatement {
    return new GeoStatement(this, sql, []);
  }

  async batch(statements: GeoStatement[]): Promise<D1Result[]> {
    const reads = statements.every((s) => isRead(s.sql));
    return this.execute(reads, statements, (db) => db.batch(statements.map((s) => db.prepare(s.sql).bind(...s.params))));
  }

  exec(query: string): Promise<D1ExecResult> {
    return this.execute(false, [], (db) => db.exec(query));
  }

  withSession(constraintOrBookmark?: string): GeoD1 {
    const given = /^geo:(\d+)$/.exec(constraintOrBookmark ?? "");
    return new GeoD1(this.world, { bookmark: given ? Number(given[1]) : 0, primaryFirst: constraintOrBookmark === "first-primary" });
  }

  getBookmark(): string | null {
    // Zero-padded, so bookmarks sort as D1's do (lexicographically, oldest first).
    return this.session ? `geo:${String(this.bookmark).padStart(12, "0")}` : null;
  }

  /** Runs on the replica when allowed and fresh enough for this session, else on the primary. */
  async execute<T>(reads: boolean, logged: GeoStatement[], run: (db: D1Database) => Promise<T>): Promise<T> {
    const { world } = this;
    const { settings } = world;
    const replica = world.replica;
    if (this.session && reads && !this.primaryFirst) {
      const position = world.replicaPosition();
      if (position >= this.bookmark) {
        await wait(settings.replicaMs);
        await world.catchUp(position);
        this.bookmark = Math.max(this.bookmark, position);
        return run(replica ?? world.env.DB);
      }
    }
    this.primaryFirst = false;
    await wait(settings.primaryMs);
    const result = await run(world.env.DB);
    const writes = logged.filter((s) => !isRead(s.sql)).map((s) => ({ sql: s.sql, params: s.params }));
    this.bookmark = writes.length > 0 ? world.recordWrite(writes) : Math.max(this.bookmark, world.latest);
    return result;
  }
}

class GeoStatement {
  constructor(
    private readonly db: GeoD1,
    readonly sql: string,
    readonly params: unknown[],
  ) {}

  bind(...params: unknown[]): GeoStatement {
    return new GeoStatement(this.db, this.sql, params);
  }

  private call(method: Run, args: unknown[]): Promise<unknown> {
    return this.db.execute(isRead(this.sql), [this], (db) => {
      const statement = db.prepare(this.sql).bind(...this.params) as unknown as Record<Run, (...a: unknown[]) => Promise<unknown>>;
      return statement[method](...args);
    });
  }

  first(...args: unknown[]) {
    return this.call("first", args);
  }
  run() {
    return this.call("run", []);
  }
  all() {
    return this.call("all", []);
  }
  raw(...args: unknown[]) {
    return this.call("raw", args);
  }
}

/** KV as seen from one location: a per-location cache with KV's `cacheTtl` semantics. */
function geoKv(world: World, location: string): KVNamespace {
  const real = world.env.AUTH_KV;
  const { kvNearMs, kvFarMs } = world.settings;
  let cache = world.kvCaches.get(location);
  if (!cache) {
    cache = new Map();
    world.kvCaches.set(location, cache);
  }
  const store = cache;
  const cached = (key: string) => {
    const hit = store.get(key);
    return hit && hit.until > Date.now() ? hit : undefined;
  };
  const remember = (key: string, value: string | null, ttlSeconds: number) =>
    store.set(key, { value, until: Date.now() + ttlSeconds * 1000 });
  const options = (arg: unknown): { type: string; cacheTtl: number } => {
    if (typeof arg === "string") return { type: arg, cacheTtl: KV_DEFAULT_CACHE_TTL_S };
    const o = (arg ?? {}) as { type?: string; cacheTtl?: number };
    return { type: o.type ?? "text", cacheTtl: o.cacheTtl ?? KV_DEFAULT_CACHE_TTL_S };
  };
  const as = (value: string | null, type: string) => (value === null || type !== "json" ? value : (JSON.parse(value) as unknown));

  async function get(keyOrKeys: string | string[], arg?: unknown): Promise<unknown> {
    const { type, cacheTtl } = options(arg);
    if (type !== "text" && type !== "json") {
      await wait(kvFarMs);
      return (real.get as (k: unknown, a: unknown) => Promise<unknown>)(keyOrKeys, arg);
    }
    const keys = Array.isArray(keyOrKeys) ? keyOrKeys : [keyOrKeys];
    const missing = keys.filter((k) => !cached(k));
    await wait(missing.length > 0 ? kvFarMs : kvNearMs);
    if (missing.length > 0) {
      const fetched = await real.get(missing, "text");
      for (const key of missing) remember(key, fetched.get(key) ?? null, cacheTtl);
    }
    if (!Array.isArray(keyOrKeys)) return as(cached(keyOrKeys)?.value ?? null, type);
    return new Map(keys.map((k) => [k, as(cached(k)?.value ?? null, type)]));
  }

  return {
    get,
    async getWithMetadata(key: string, arg?: unknown) {
      await wait(kvFarMs);
      return (real.getWithMetadata as (k: string, a: unknown) => Promise<unknown>)(key, arg);
    },
    async put(key: string, value: string, putOptions?: KVNamespacePutOptions) {
      await wait(kvFarMs);
      await real.put(key, value, putOptions);
      if (typeof value === "string") remember(key, value, KV_DEFAULT_CACHE_TTL_S);
      else store.delete(key);
    },
    async delete(key: string) {
      await wait(kvFarMs);
      await real.delete(key);
      remember(key, null, KV_DEFAULT_CACHE_TTL_S);
    },
    async list(listOptions?: KVNamespaceListOptions) {
      await wait(kvFarMs);
      return real.list(listOptions);
    },
  } as unknown as KVNamespace;
}

/** A Durable Object namespace whose stubs cost `ms` per call. */
function geoNamespace<T extends object>(namespace: T, ms: number): T {
  return new Proxy(namespace, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      if (prop !== "get") return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const stub = (value as (...a: unknown[]) => object).apply(target, args);
        return new Proxy(stub, {
          get(s, method) {
            const member = Reflect.get(s, method, s) as unknown;
            if (typeof member !== "function" || method === "then") return member;
            return async (...callArgs: unknown[]) => {
              await wait(ms);
              // Reflect.apply, not member.apply: an RPC stub answers every property name with a remote method.
              return Reflect.apply(member as (...a: unknown[]) => unknown, s, callArgs);
            };
          },
        });
      };
    },
  });
}
