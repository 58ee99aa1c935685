// A loopback stand-in for the Cloudflare REST API, for `npm run provision`'s read-replication step:
// it records each request and answers GET /accounts with one account, and the database update with
// success, or with a refusal while `refuse` is set. In .mjs: the project's type check has no Node types.
import { createServer } from "node:http";

export async function startFakeCloudflareApi() {
  /** @type {{ method?: string, url?: string, auth?: string, body: string }[]} */
  const seen = [];
  const state = { refuse: false };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      res.setHeader("Content-Type", "application/json");
      if (req.url?.endsWith("/accounts")) return res.end(JSON.stringify({ success: true, result: [{ id: "acc-1" }] }));
      if (state.refuse) {
        res.statusCode = 403;
        return res.end(JSON.stringify({ success: false, errors: [{ message: "Authentication error" }] }));
      }
      res.end(JSON.stringify({ success: true, result: { read_replication: { mode: "auto" } } }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    base: `http://127.0.0.1:${port}/client/v4`,
    seen,
    refuse: (/** @type {boolean} */ on) => void (state.refuse = on),
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
