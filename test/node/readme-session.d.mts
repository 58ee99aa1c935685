// Types for readme-session.mjs.

export function firstCurlSession(): string;
export function runShell(script: string): { status: number | null; stdout: string; stderr: string };
