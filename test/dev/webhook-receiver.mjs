// A loopback webhook receiver for the dev tests: records each POST to /hook and answers 204. The
// tests run in other processes than the one that starts it (global-setup.mjs), so they ask it over
// HTTP: `GET /wait?contains=<text>[&contains=<text>…]&timeout_ms=<n>` answers the first delivery whose
// body contains every text, as soon as there is one (200, `{ headers, body }`), or 504 once the time
// is up.
// Types in webhook-receiver.d.mts (the project's type check has no @types/node).
import { createServer } from "node:http";

const MAX_WAIT_MS = 60_000;

/** Starts listening on 127.0.0.1 on a free port. */
export async function startReceiver() {
  /** @type {{ headers: Record<string, string>, body: string }[]} */
  const received = [];
  /** @type {Set<{ matches: (body: string) => boolean, done: (r: { headers: Record<string, string>, body: string } | null) => void }>} */
  const waiting = new Set();

  /**
   * The first delivery whose body contains every one of `texts`, now or once it arrives; null after `timeoutMs`.
   * @param {string[]} texts
   */
  const waitFor = (texts, timeoutMs = 30_000) => {
    const matches = (/** @type {string} */ body) => texts.every((text) => body.includes(text));
    const found = received.find((r) => matches(r.body));
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const waiter = {
        matches,
        done: (/** @type {{ headers: Record<string, string>, body: string } | null} */ delivery) => {
          clearTimeout(timer);
          waiting.delete(waiter);
          resolve(delivery);
        },
      };
      const timer = setTimeout(() => waiter.done(null), Math.min(timeoutMs, MAX_WAIT_MS));
      waiting.add(waiter);
    });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method === "GET" && url.pathname === "/wait") {
      const texts = url.searchParams.getAll("contains");
      void waitFor(texts, Number(url.searchParams.get("timeout_ms") ?? 30_000)).then((delivery) => {
        if (delivery) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(delivery));
        else
          res
            .writeHead(504, { "content-type": "application/json" })
            .end(JSON.stringify({ error: `no delivery containing ${texts.join(", ")}` }));
      });
      return;
    }
    let body = "";
    req.on("data", (chunk) => (body += String(chunk)));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const delivery = { headers, body };
      received.push(delivery);
      for (const waiter of [...waiting]) if (waiter.matches(body)) waiter.done(delivery);
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    waitUrl: `http://127.0.0.1:${port}/wait`,
    waitFor,
    close: () =>
      new Promise((resolve) => {
        for (const waiter of [...waiting]) waiter.done(null);
        server.close(() => resolve(undefined));
      }),
  };
}
