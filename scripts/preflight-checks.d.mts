// Types for preflight-checks.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export const PLACEHOLDER_IDS: string[];

export interface Problem {
  what: string;
  fix: string;
}

export interface Report {
  problems: Problem[];
  notes: string[];
}

export function resolveEnv(
  config: Record<string, unknown>,
  envName: string | undefined,
): { name: string; vars: Record<string, unknown>; d1: Record<string, string>[]; kv: Record<string, string>[] };

/** What preflight.mjs found about the message catalogues (see preflight-checks.mjs). */
export interface LanguageFindings {
  locales: string[];
  shipped: Record<string, string[]>;
  overrides: Record<string, string[]> | null;
  overridesError?: string;
}

/** What `wrangler d1 info --json` said of read replication: its mode, or why it could not be read. */
export interface ReplicationFinding {
  mode?: string;
  error?: string;
}

export function checkDeploy(
  config: Record<string, unknown>,
  options: {
    envName?: string;
    secrets: string[] | null;
    secretsError?: string;
    languages?: LanguageFindings;
    replication?: ReplicationFinding;
  },
): Report;

export function formatReport(report: Report, options: { force: boolean; target: string }): { text: string; ok: boolean };

export function parseSecretList(stdout: string): string[];
