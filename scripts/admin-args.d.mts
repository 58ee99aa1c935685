// Types for admin-args.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export const USAGE: string;

export class UsageError extends Error {}

export interface AdminPlan {
  action: "grant" | "revoke";
  /** Trimmed and lower-cased, as the API stores it. */
  email: string;
  remote: boolean;
  /** Arguments for `wrangler`: `d1 execute DB --local|--remote --json --yes`, the config flags, `--command <sql>`. */
  args: string[];
}

export function planAdmin(argv: string[], context: { now: number; auditId: string }): AdminPlan;

export function describeOutcome(plan: Pick<AdminPlan, "action" | "email" | "remote">, output: unknown): { ok: boolean; message: string };
