import { DurableObject } from "cloudflare:workers";
import { readConfig, type Bindings } from "../../config";
import type { SprayPolicy } from "../../config/rate-limits";
import type { AttackState, MonitorRpc, ShardMinute } from "../../kernel/objects";
import { describeError, log } from "../../log";
import { createRecorder, type ObjectRecorder } from "./recorder";
import { MINUTE_MS, step, TICK_MS, type Minute, type ModeRow } from "./spray-detector";

/**
 * Password-spraying detection across many clients: failures no per-IP or per-account counter sees
 * as unusual, because each client and each account fails only a little. The arithmetic is in
 * spray-detector.ts.
 *
 * One class, two roles, by object name:
 * - `shard:<n>` ({@link SPRAY_SHARDS} of them) counts strangers' failed logins in 10-second buckets,
 *   with the identifier and the client network of each (both hashed by the worker). Workers add to
 *   the shard of the login identifier after the response, so no single object takes every
 *   failure's write, and one shard sees all of an identifier's failures: beyond
 *   {@link PER_IDENTIFIER_MINUTE} a minute they are not counted. Spraying is breadth (a few guesses
 *   at many accounts from many networks); depth on one account is the lockout's business.
 * - `monitor` gathers the shards' last minute from an alarm every {@link TICK_MS} while there is
 *   anything to watch: failures, distinct identifiers and distinct networks (the union of the
 *   shards' sets), keeps the last `quiet_minutes` of rates for the sustained average, and decides
 *   the mode. Workers read the mode through a per-isolate cache (src/abuse/spraying.ts).
 */

export const SPRAY_SHARDS = 8;
export const MONITOR_NAME = "monitor";
const BUCKET_MS = 10_000;
/** A shard wakes the monitor at most this often (the monitor keeps ticking while the rate is not zero). */
const WAKE_EVERY_MS = 30_000;
/** Failures of one identifier counted per minute (see the class comment). */
const PER_IDENTIFIER_MINUTE = 3;
/** The most network tags one shard reports for a minute: enough to tell breadth, bounded in size. */
const NETWORKS_PER_SHARD = 512;

const SCHEMA = `
DROP TABLE IF EXISTS monitor;
CREATE TABLE IF NOT EXISTS buckets (start INTEGER PRIMARY KEY, failures INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS identifiers (identifier TEXT NOT NULL, start INTEGER NOT NULL, failures INTEGER NOT NULL, PRIMARY KEY (identifier, start));
CREATE TABLE IF NOT EXISTS networks (network TEXT NOT NULL, start INTEGER NOT NULL, PRIMARY KEY (network, start));
CREATE TABLE IF NOT EXISTS shard_meta (id INTEGER PRIMARY KEY CHECK (id = 1), woke_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mode (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  under_attack INTEGER NOT NULL DEFAULT 0,
  since INTEGER,
  baseline REAL NOT NULL DEFAULT 0,
  rate INTEGER NOT NULL DEFAULT 0,
  last_tick INTEGER,
  entered_at INTEGER,
  peak INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ticks (at INTEGER PRIMARY KEY, rate INTEGER NOT NULL);
`;

export class AttackMonitor extends DurableObject<Bindings> implements MonitorRpc {
  private readonly sql: SqlStorage;
  private readonly recorder: ObjectRecorder;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
    this.recorder = createRecorder(env, (promise) => ctx.waitUntil(promise));
  }

  /**
   * Shard: counts one failed login at `now` against `identifier` from `network` (hashes, never the
   * identifier or the address) and, now and then, makes sure the monitor is watching.
   */
  async recordFailure(now: number, identifier: string, network: string): Promise<void> {
    const start = now - (now % BUCKET_MS);
    // The identifier's failures in the last minute (a sliding window of 10-second buckets), this one included.
    this.sql.exec(
      "INSERT INTO identifiers (identifier, start, failures) VALUES (?, ?, 1) ON CONFLICT (identifier, start) DO UPDATE SET failures = failures + 1",
      identifier,
      start,
    );
    this.sql.exec("DELETE FROM identifiers WHERE start <= ?", now - MINUTE_MS);
    const { recent } = this.sql
      .exec<{ recent: number }>(
        "SELECT sum(failures) AS recent FROM identifiers WHERE identifier = ? AND start > ?",
        identifier,
        now - MINUTE_MS,
      )
      .one();
    if (recent > PER_IDENTIFIER_MINUTE) return;
    this.sql.exec("INSERT INTO buckets (start, failures) VALUES (?, 1) ON CONFLICT (start) DO UPDATE SET failures = failures + 1", start);
    this.sql.exec("INSERT INTO networks (network, start) VALUES (?, ?) ON CONFLICT DO NOTHING", network, start);
    this.sql.exec("DELETE FROM buckets WHERE start < ?", now - 2 * MINUTE_MS);
    this.sql.exec("DELETE FROM networks WHERE start < ?", now - 2 * MINUTE_MS);
    const wokeAt = this.sql.exec<{ woke_at: number }>("SELECT woke_at FROM shard_meta WHERE id = 1").toArray()[0]?.woke_at ?? 0;
    if (now - wokeAt < WAKE_EVERY_MS) return;
    this.sql.exec("INSERT INTO shard_meta (id, woke_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET woke_at = excluded.woke_at", now);
    const monitor = this.env.ATTACK_MONITOR;
    await monitor.get(monitor.idFromName(MONITOR_NAME)).wake();
  }

  /** Shard: what it counted in the buckets of the minute before `now`. */
  minuteBefore(now: number): ShardMinute {
    const window = [now - MINUTE_MS, now] as const;
    const failures =
      this.sql.exec<{ n: number | null }>("SELECT sum(failures) AS n FROM buckets WHERE start > ? AND start <= ?", ...window).one().n ?? 0;
    const identifiers = this.sql
      .exec<{ n: number }>("SELECT count(DISTINCT identifier) AS n FROM identifiers WHERE start > ? AND start <= ?", ...window)
      .one().n;
    const networks = this.sql
      .exec<{ network: string }>(
        "SELECT DISTINCT network FROM networks WHERE start > ? AND start <= ? LIMIT ?",
        ...window,
        NETWORKS_PER_SHARD,
      )
      .toArray()
      .map((r) => r.network);
    return { failures, identifiers, networks };
  }

  /** Monitor: starts the alarm if it is not running. */
  async wake(): Promise<void> {
    this.sql.exec("INSERT INTO mode (id) VALUES (1) ON CONFLICT (id) DO NOTHING");
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 1000);
  }

  /** Monitor: the state a login reads (through the isolate cache). */
  state(): AttackState {
    const row = this.row();
    if (!row) return { underAttack: false, rate: 0, baseline: 0, since: null };
    return { underAttack: row.under_attack === 1, rate: row.rate, baseline: row.baseline, since: row.since };
  }

  override async alarm(): Promise<void> {
    const watching = await this.tick(Date.now());
    // Keep watching while anything is happening; an idle monitor sleeps until a shard wakes it.
    if (watching) await this.ctx.storage.setAlarm(Date.now() + TICK_MS);
  }

  /**
   * Monitor: one look at the shards (the alarm's body); true while there is anything to watch. The
   * policy is `RATE_LIMITS.spraying` of the deployment (tests pass one to stage an attack).
   */
  async tick(now: number, policy: SprayPolicy = readConfig(this.env).rateLimits.spraying): Promise<boolean> {
    const row = this.row() ?? this.sql.exec<ModeRow>("INSERT INTO mode (id) VALUES (1) RETURNING *").one();
    const minute = await this.gather(now);
    this.sql.exec("INSERT INTO ticks (at, rate) VALUES (?, ?) ON CONFLICT (at) DO UPDATE SET rate = excluded.rate", now, minute.failures);
    this.sql.exec("DELETE FROM ticks WHERE at <= ?", now - policy.quietMinutes * MINUTE_MS);
    const average = this.sql.exec<{ a: number | null }>("SELECT avg(rate) AS a FROM ticks").one().a ?? 0;
    const next = step(row, minute, average, now, policy);
    this.sql.exec(
      "UPDATE mode SET under_attack = ?, since = ?, baseline = ?, rate = ?, last_tick = ?, entered_at = ?, peak = ? WHERE id = 1",
      next.under_attack,
      next.since,
      next.baseline,
      next.rate,
      next.last_tick,
      next.entered_at,
      next.peak,
    );
    const began = row.under_attack === 0 && next.under_attack === 1;
    const ended = row.under_attack === 1 && next.under_attack === 0;
    if (began || ended) {
      try {
        await this.announce(began ? "started" : "ended", next, minute, policy, row.since ?? now, now);
      } catch (error) {
        log("error", "attack.announce_failed", describeError(error));
      }
    }
    return next.under_attack === 1 || minute.failures > 0;
  }

  /** The minute across every shard: failures and identifiers add up (each identifier has one shard); networks are a union. */
  private async gather(now: number): Promise<Minute> {
    const namespace = this.env.ATTACK_MONITOR;
    const minutes = await Promise.all(
      Array.from({ length: SPRAY_SHARDS }, (_, n) =>
        namespace
          .get(namespace.idFromName(`shard:${n}`))
          .minuteBefore(now)
          .catch((error: unknown): ShardMinute => {
            // One unreachable shard must not blind the monitor: count what the others saw.
            log("warn", "attack.shard_unreachable", { shard: n, ...describeError(error) });
            return { failures: 0, identifiers: 0, networks: [] };
          }),
      ),
    );
    return {
      failures: minutes.reduce((sum, m) => sum + m.failures, 0),
      identifiers: minutes.reduce((sum, m) => sum + m.identifiers, 0),
      networks: new Set(minutes.flatMap((m) => m.networks)).size,
    };
  }

  /**
   * An attack began or ended: a warning log line, one audit row and a `security.alert` event. None
   * of them names an account or a client: spraying is about many of each.
   */
  private async announce(change: "started" | "ended", state: ModeRow, minute: Minute, policy: SprayPolicy, since: number, now: number) {
    const details = {
      failures_per_minute: state.rate,
      networks: minute.networks,
      identifiers: minute.identifiers,
      baseline_per_minute: Math.round(state.baseline * 100) / 100,
      ...(change === "ended" ? { peak_per_minute: state.peak, duration_seconds: Math.round((now - since) / 1000) } : {}),
      minimum_per_minute: policy.minimumPerMinute,
      baseline_factor: policy.baselineFactor,
      minimum_networks: policy.minimumNetworks,
      minimum_identifiers: policy.minimumIdentifiers,
    };
    log("warn", `attack.spraying_${change}`, details);
    await this.recorder.announce(
      { action: change === "started" ? "attack.started" : "attack.ended", metadata: { signal: "password_spraying", ...details } },
      [{ type: "security.alert", data: { reason: "password_spraying", state: change, ...details } }],
    );
  }

  private row(): ModeRow | undefined {
    return this.sql.exec<ModeRow>("SELECT * FROM mode WHERE id = 1").toArray()[0];
  }
}
