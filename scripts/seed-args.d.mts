// Types for seed-args.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export const USAGE: string;
export const DEMO_USERS: { email: string; fullName: string; superuser: boolean }[];
export const DEMO_PASSWORD: string;
export const DEMO_KEY_NAME: string;

export class UsageError extends Error {}

export function planSeed(argv: string[]): { base: string; adminFlags: string[] };
