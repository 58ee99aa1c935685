// Types for dev-server.mjs.

export function freePort(): Promise<number>;
export function makeTempDir(prefix: string): string;
export function removeDir(dir: string): void;
export function listFiles(dir: string): string[];

export interface DevServer {
  /** The last 20,000 characters of its stdout and stderr, for failure messages. */
  output(): string;
  /** Stops the whole process group; resolves once none of it is left. */
  stop(): Promise<void>;
}
/** `onOutput` sees all of stdout and stderr as it arrives (the worker's log lines are on stdout). */
export function startDev(args: string[], options?: { onOutput?: (text: string) => void }): DevServer;
/** Resolves once `${base}/health` answers 200; throws with the server's output after `timeoutMs` (default 60 s). */
export function waitUntilHealthy(base: string, server: Pick<DevServer, "output">, timeoutMs?: number): Promise<void>;
