// Types for echo-server.mjs.
export function startEchoServer(): Promise<{ port: number; close: () => Promise<unknown> }>;
