// Types for fake-services.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export const BREACHED_SAMPLES: string[];
export const DUMMY_TOKEN: string;

export interface FakeServices {
  url: string;
  /** HIBP_API_URL for the worker (the 5-hex prefix is appended). */
  rangeUrl: string;
  /** TURNSTILE_VERIFY_URL for the worker. */
  verifyUrl: string;
  close(): Promise<void>;
}

export function startFakeServices(options?: { port?: number }): Promise<FakeServices>;
