import type { SprayPolicy } from "../../config/rate-limits";

/**
 * The password-spraying detector's arithmetic, apart from the object that runs it
 * (attack-monitor.ts). It measures an attack, not a loud client:
 *
 * - **Entering** needs the minute's failures to reach max(`baseline_factor` × baseline,
 *   `minimum_per_minute`) *and* to come from at least `minimum_networks` client networks (IPv4 /24,
 *   IPv6 /48, with the ASN when known) *and* to name at least `minimum_identifiers` identifiers.
 *   Failures from known devices and signed-in sessions are never counted (spraying.ts).
 * - **Staying** ends when the average rate over the last `quiet_minutes` falls below the exit
 *   threshold max(2 × baseline, half the minimum): a burst now and then cannot hold the mode. And the
 *   mode ends `max_minutes` after the entry condition last held, whatever the rate: holding it means
 *   meeting the entry condition again.
 * - **The baseline** (the usual failure rate) is a slow moving average (six-hour time constant) of
 *   the minutes below the exit threshold only: traffic near the entry threshold is never learned,
 *   so it cannot ramp the bar up; during an attack the baseline is frozen.
 */

/** How often the monitor looks at the shards while anything is happening. */
export const TICK_MS = 10_000;
export const MINUTE_MS = 60_000;
/** Time constant of the baseline's moving average. */
const BASELINE_TAU_MS = 6 * 3_600_000;

export interface ModeRow extends Record<string, SqlStorageValue> {
  under_attack: number;
  since: number | null;
  baseline: number;
  /** Failed logins in the last minute, at the last tick. */
  rate: number;
  last_tick: number | null;
  /** The last tick at which the entry condition held; the mode's cap counts from it. */
  entered_at: number | null;
  peak: number;
}

/** What the shards saw in the minute before a tick. */
export interface Minute {
  failures: number;
  identifiers: number;
  networks: number;
}

/** The rates that enter and leave the mode, for the current baseline. */
function thresholds(row: Pick<ModeRow, "baseline">, policy: SprayPolicy): { enter: number; exit: number } {
  return {
    enter: Math.max(policy.baselineFactor * row.baseline, policy.minimumPerMinute),
    exit: Math.max(2 * row.baseline, policy.minimumPerMinute / 2),
  };
}

/** Whether a minute is an attack: enough failures, from enough networks, at enough identifiers. */
function entryHolds(row: Pick<ModeRow, "baseline">, minute: Minute, policy: SprayPolicy): boolean {
  return (
    minute.failures >= thresholds(row, policy).enter &&
    minute.networks >= policy.minimumNetworks &&
    minute.identifiers >= policy.minimumIdentifiers
  );
}

/**
 * One tick: a pure function of the stored state, the minute, the average rate over the last
 * `quiet_minutes` and the time, so its thresholds are tested without clocks.
 */
export function step(row: ModeRow, minute: Minute, average: number, now: number, policy: SprayPolicy): ModeRow {
  const rate = minute.failures;
  const { exit } = thresholds(row, policy);
  const entering = entryHolds(row, minute, policy);
  if (row.under_attack !== 1) {
    if (entering) return { ...row, under_attack: 1, since: now, rate, last_tick: now, entered_at: now, peak: rate };
    // Idle gaps (no tick) had a rate of zero: the decay over the gap accounts for them. A minute at
    // or above the exit threshold is not learned at all.
    const elapsed = row.last_tick === null ? TICK_MS : Math.max(0, now - row.last_tick);
    const keep = Math.exp(-elapsed / BASELINE_TAU_MS);
    const baseline = rate < exit ? row.baseline * keep + rate * (1 - keep) : row.baseline;
    return { ...row, baseline, rate, last_tick: now };
  }
  const enteredAt = entering ? now : (row.entered_at ?? row.since ?? now);
  const peak = Math.max(row.peak, rate);
  const quiet = now - (row.since ?? now) >= policy.quietMinutes * MINUTE_MS && average < exit;
  const capped = now - enteredAt >= policy.maxMinutes * MINUTE_MS;
  if (quiet || capped) return { ...row, under_attack: 0, since: null, rate, last_tick: now, entered_at: null, peak };
  return { ...row, rate, last_tick: now, entered_at: enteredAt, peak };
}
