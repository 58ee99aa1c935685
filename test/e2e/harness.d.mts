// Types for harness.mjs.
import type { Browser } from "playwright-core";

/** One `{"level":"info","event":"request",…}` line of the worker's log. */
export interface RequestLine {
  method: string;
  route: string | null;
  status: number;
  [field: string]: unknown;
}

export function launchChromium(): Promise<Browser>;

export interface Gatehouse {
  port: number;
  requests(): RequestLine[];
  output(): string;
  /** `npm run admin -- grant <email>` against this server's local state. */
  grantSuperuser(email: string): void;
  stop(): Promise<void>;
}
export function startGatehouse(options: {
  appOrigin: string;
  /** Extra worker variables for this server (`--var NAME:value`), e.g. `{ MFA_REQUIRED: "all" }`. */
  vars?: Record<string, string>;
}): Promise<Gatehouse>;

export interface Site {
  port: number;
  close(): Promise<void>;
}
/** Serves `html()` at `/`, rendered per request. */
export function startSite(html: () => string): Promise<Site>;

/** One shipped catalogue flattened to dotted keys (a plural gives its `other` form). */
export function messages(locale: string): Record<string, string>;
