// Types for build-client.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

/** Where the served module is committed: assets/client/v1/gatehouse.js (absolute path). */
export const CLIENT_ASSET: string;
/** The served JavaScript: src/client/gatehouse.ts with its types stripped; throws if it imports anything at run time. */
export function buildClient(): string;
/** The text of assets/client/v1/gatehouse.js as committed. */
export function committedClient(): string;
