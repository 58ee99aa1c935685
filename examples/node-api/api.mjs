// The API itself: node:http, no framework. `GET /me` answers the caller's verified claims; every
// refusal is problem+json with the RFC 6750 challenge, as Gatehouse's own API answers.
import { createServer } from "node:http";
import { problemFor, VerifyError } from "gatehouse/server";

/**
 * @typedef {import("node:http").IncomingMessage} IncomingMessage
 * @typedef {import("node:http").ServerResponse} ServerResponse
 */

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
function send(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

/**
 * @param {ServerResponse} res
 * @param {404 | 405 | 500} status
 * @param {string} code
 * @param {string} title
 * @param {string} detail
 * @param {Record<string, string>} [headers]
 */
function problem(res, status, code, title, detail, headers = {}) {
  const body = { type: `urn:gatehouse:problem:${code}`, title, status, detail, code };
  send(res, status, body, { "content-type": "application/problem+json", ...headers });
}

/**
 * CORS for one exact origin (your site's), so a page there can call this API with a bearer token
 * and read the `WWW-Authenticate` challenge that tells it to refresh.
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {string | undefined} allowed
 */
function cors(req, res, allowed) {
  res.setHeader("vary", "Origin");
  if (!allowed || req.headers.origin !== allowed) return;
  res.setHeader("access-control-allow-origin", allowed);
  res.setHeader("access-control-expose-headers", "WWW-Authenticate");
}

/**
 * The request handler.
 * @param {{ verify: import("gatehouse/server").Verifier<"session">, corsOrigin?: string }} options
 * @returns {(req: IncomingMessage, res: ServerResponse) => Promise<void>}
 */
function createApi({ verify, corsOrigin }) {
  return async (req, res) => {
    cors(req, res, corsOrigin);
    const path = new URL(req.url ?? "/", "http://api.invalid").pathname;
    if (path !== "/me") return problem(res, 404, "not_found", "Not found", "This API has one endpoint: GET /me.");
    if (req.method === "OPTIONS" && corsOrigin && req.headers.origin === corsOrigin) {
      res.writeHead(204, {
        "access-control-allow-methods": "GET",
        "access-control-allow-headers": "Authorization",
        "access-control-max-age": "600",
      });
      return void res.end();
    }
    if (req.method !== "GET") return problem(res, 405, "method_not_allowed", "Method not allowed", "Use GET.", { allow: "GET" });
    try {
      const claims = await verify(req.headers.authorization);
      send(res, 200, claims);
    } catch (error) {
      if (!(error instanceof VerifyError)) {
        console.error(error);
        return problem(res, 500, "internal_error", "Internal error", "Something went wrong on our side.");
      }
      // An operator's problem (Gatehouse unreachable), not the caller's: say why in the logs.
      if (error.code === "service_unavailable") console.error(`gatehouse: ${error.reason}`, error.cause);
      const { status, headers, body } = problemFor(error);
      send(res, status, body, headers);
    }
  };
}

/**
 * Starts the API; `port` 0 picks a free one.
 * @param {{ verify: import("gatehouse/server").Verifier<"session">, port?: number, host?: string, corsOrigin?: string }} options
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function startApi({ verify, port = 8791, host = "127.0.0.1", corsOrigin }) {
  const server = createServer(createApi({ verify, corsOrigin }));
  await new Promise((listening, failed) => {
    server.once("error", failed);
    server.listen(port, host, () => listening(undefined));
  });
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://${host}:${address.port}`,
    close: () => new Promise((closed) => server.close(() => closed())),
  };
}
