// Types for admin-run.mjs.

export function runNodeScript(script: string, args: string[]): { status: number | null; stdout: string; stderr: string };
export function wrangler(args: string[]): string;
