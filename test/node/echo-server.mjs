// A loopback HTTP server that answers every request with "<method> <Host header> <path>", for tests
// of how scripts address a dev server. In .mjs: the project's type check has no Node types.
import { createServer } from "node:http";

/** Starts it on 127.0.0.1 at a free port. */
export async function startEchoServer() {
  const server = createServer((req, res) => res.end(`${req.method} ${req.headers.host} ${req.url}`));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
