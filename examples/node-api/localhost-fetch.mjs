// A fetch that reaches `*.localhost` names on this machine, for Node, whose fetch does not resolve
// them (browsers and curl do: RFC 6761 makes them loopback). Such a request goes to 127.0.0.1 with
// the original name in the Host header, so the server sees the request it would from a browser;
// every other URL goes to the global fetch unchanged.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** @param {string} hostname */
export function isLocalhostName(hostname) {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost");
}

/**
 * @param {string | URL | Request} input
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function localhostFetch(input, init) {
  const request = new Request(input, init);
  const url = new URL(request.url);
  if (!isLocalhostName(url.hostname)) return fetch(request);
  const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  // The Fetch standard forbids setting Host (Node's fetch drops it): node:http sends what it is given.
  const headers = { ...Object.fromEntries(request.headers), host: url.host };
  const https = url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const outgoing = (https ? httpsRequest : httpRequest)(
      {
        host: "127.0.0.1",
        port: url.port || (https ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers,
        signal: request.signal,
        // TLS checks the certificate against the name, not the address.
        ...(https ? { servername: url.hostname } : {}),
      },
      (incoming) => {
        /** @type {Buffer[]} */
        const chunks = [];
        incoming.on("data", (chunk) => chunks.push(chunk));
        incoming.on("error", reject);
        incoming.on("end", () => {
          const status = incoming.statusCode ?? 502;
          const responseHeaders = new Headers();
          for (let i = 0; i < incoming.rawHeaders.length; i += 2)
            responseHeaders.append(incoming.rawHeaders[i] ?? "", incoming.rawHeaders[i + 1] ?? "");
          const nullBody = [101, 204, 205, 304].includes(status) || request.method === "HEAD";
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}
