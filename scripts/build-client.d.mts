// Types for build-client.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

/** The served JavaScript: src/client/gatehouse.ts with its types stripped; throws if it imports anything at run time. */
export function buildClient(): string;
/** The text of src/client/bundle.ts for that JavaScript. */
export function bundleModule(js?: string): string;
/** The text of src/client/bundle.ts as committed. */
export function committedBundle(): string;
