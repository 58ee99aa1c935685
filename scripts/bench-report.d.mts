// Types for bench-report.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export interface Summary {
  n: number;
  median: number;
  p95: number;
}

export function progressLine(elapsedMs: number, message: string): string;
export function summarize(samples: number[]): Summary;
export function recoveryTable(rows: { path: string; known: Summary; unknown: Summary; diff: Summary }[]): string[];
export function parseCounts(output: string): { users: number | "?"; keys: number | "?" };
