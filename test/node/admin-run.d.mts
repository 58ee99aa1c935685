// Types for admin-run.mjs.

/** Runs a Node script of the project (path relative to the root) on this Node; killed after `timeoutMs` (default 60 s). */
export function runNodeScript(
  script: string,
  args: string[],
  options?: { timeoutMs?: number },
): { status: number | null; stdout: string; stderr: string };
export function wrangler(args: string[]): string;
