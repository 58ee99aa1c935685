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
export function startDev(args: string[]): DevServer;
