// Types for local-fetch.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs
// and has no Node types: the lookup is typed loosely).

export function lookupLocalhost(hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void;

export function localFetch(
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; text: string }>;
