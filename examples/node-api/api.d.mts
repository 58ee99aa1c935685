// Types for api.mjs (the tests import it; the project's type check has no Node types).
import type { Verifier } from "gatehouse/server";

/** Starts the API on `host` (default 127.0.0.1) and `port` (default 8791; 0 picks a free one). */
export function startApi(options: {
  verify: Verifier<"session">;
  port?: number;
  host?: string;
  /** The one origin allowed to call it from a browser (CORS), e.g. http://app.example.localhost:5173. */
  corsOrigin?: string;
}): Promise<{ url: string; close(): Promise<void> }>;
