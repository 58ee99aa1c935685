// A loopback webhook receiver for the Node tests: records each POST and answers 204.
import { createServer } from "node:http";

/**
 * Starts listening on 127.0.0.1 on a free port. `next()` resolves with the next request received
 * (or one already received and not yet taken).
 */
export async function startReceiver() {
  /** @type {{ headers: Record<string, string>, body: string }[]} */
  const queue = [];
  /** @type {((r: { headers: Record<string, string>, body: string }) => void)[]} */
  const waiting = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += String(chunk)));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const received = { headers, body };
      const taker = waiting.shift();
      if (taker) taker(received);
      else queue.push(received);
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    next: () => {
      const ready = queue.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
