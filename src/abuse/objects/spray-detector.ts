import type { SprayPolicy } from "../../config/rate-limits";

/**
 * The password-spraying detector's arithmetic, apart from the object that runs it
 * (attack-monitor.ts): the baseline is an exponentially weighted mean of the per-minute failure
 * rate (time constant one hour); the mode is entered when the rate reaches
 * max(`baseline_factor` × baseline, `minimum_per_minute`) and left after `quiet_minutes` below
 * max(2 × baseline, half the minimum). While under attack the baseline is frozen, so the attack
 * never becomes normal.
 */

/** How often the monitor looks at the shards while anything is happening. */
export const TICK_MS = 10_000;
export const MINUTE_MS = 60_000;
/** Time constant of the baseline's moving average. */
const BASELINE_TAU_MS = 3_600_000;

export interface MonitorRow extends Record<string, SqlStorageValue> {
  under_attack: number;
  since: number | null;
  baseline: number;
  rate: number;
  last_tick: number | null;
  /** When the rate last was at or above the exit threshold during an attack. */
  loud_at: number | null;
  peak: number;
}

/**
 * One tick of the detector: a pure function of the stored state, the minute's rate and the time,
 * so its thresholds are tested without clocks.
 */
export function step(row: MonitorRow, rate: number, now: number, policy: SprayPolicy): MonitorRow {
  const elapsed = row.last_tick === null ? TICK_MS : Math.max(0, now - row.last_tick);
  const keep = Math.exp(-elapsed / BASELINE_TAU_MS);
  const attacking = row.under_attack === 1;
  // Idle gaps (no tick) had a rate of zero: the decay over the gap accounts for them.
  const baseline = attacking ? row.baseline : row.baseline * keep + rate * (1 - keep);
  const enter = Math.max(policy.baselineFactor * row.baseline, policy.minimumPerMinute);
  const exit = Math.max(2 * row.baseline, policy.minimumPerMinute / 2);
  if (!attacking) {
    if (rate >= enter) return { ...row, under_attack: 1, since: now, rate, last_tick: now, loud_at: now, peak: rate };
    return { ...row, baseline, rate, last_tick: now };
  }
  const loudAt = rate >= exit ? now : (row.loud_at ?? now);
  const peak = Math.max(row.peak, rate);
  if (now - loudAt >= policy.quietMinutes * MINUTE_MS) {
    return { ...row, under_attack: 0, since: null, rate, last_tick: now, loud_at: null, peak };
  }
  return { ...row, rate, last_tick: now, loud_at: loudAt, peak };
}
