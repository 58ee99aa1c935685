// Types for bench-report.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export interface Summary {
  n: number;
  median: number;
  p95: number;
}

export function progressLine(elapsedMs: number, message: string, label?: string): string;
export function summarize(samples: number[]): Summary;
export function recoveryTable(rows: { path: string; known: Summary; unknown: Summary; diff: Summary }[]): string[];
export function parseCounts(output: string): { users: number | "?"; keys: number | "?" };

export type Goal = { max: number } | { min: number };

export function median(values: number[]): number;
export function perOperationMs(full: number[], empty: number[], n: number): number;
export function goalText(goal: Goal | null | undefined): string;
export function verdict(ratio: number, goal: Goal | null | undefined): "met" | "MISSED" | "—";
export function goalLine(label: string, goal: Goal, ratio: number): string;
export function latencyTable(
  rows: {
    dataset: string;
    users: number | string;
    keys: number | string;
    name: string;
    summary: Summary;
    floor: number;
    floorIs: string;
    goal?: Goal | null;
  }[],
): string[];
export function rotation<T>(items: T[], round: number): T[];
export function revocationSummary(samples: number[]): { n: number; worst: number; p95: number; median: number };
