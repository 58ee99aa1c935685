// Types for dev-server.mjs.

export function freePort(): Promise<number>;
export function makeTempDir(prefix: string): string;
export function removeDir(dir: string): void;
/** Writes `text` to `name` in a fresh temporary directory; returns the file's path. */
export function writeTempFile(name: string, text: string): string;
export function listFiles(dir: string): string[];

export interface DevServer {
  /** The last 20,000 characters of its stdout and stderr, for failure messages. */
  output(): string;
  /** Stops the whole process group; resolves once none of it is left. */
  stop(): Promise<void>;
}
/** `onOutput` sees all of stdout and stderr as it arrives (the worker's log lines are on stdout). */
export function startDev(args: string[], options?: { onOutput?: (text: string) => void }): DevServer;
/** `wrangler dev` of another worker of this repository (an example), stopped the same way. */
export function startWrangler(args: string[], options?: { onOutput?: (text: string) => void }): DevServer;
/** Resolves once `${base}/health` answers 200; throws with the server's output after `timeoutMs` (default 60 s). */
export function waitUntilHealthy(base: string, server: Pick<DevServer, "output">, timeoutMs?: number): Promise<void>;
/**
 * Polls `check` until it returns something other than undefined, and returns that; throws after
 * `timeoutMs` (default 60 s) naming `what`, with `detail()` appended.
 */
export function pollUntil<T>(
  check: () => T | undefined | Promise<T | undefined>,
  options: { what: string; timeoutMs?: number; intervalMs?: number; detail?: () => string },
): Promise<T>;
/** The last `chars` (default 5,000) characters of a text file (a server's log), or "" when there is none. */
export function tailOf(file: string, chars?: number): string;
