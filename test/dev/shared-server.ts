import { inject } from "vitest";

/**
 * The one `npm run dev` that test/dev/global-setup.mjs starts for `npm run test:dev`, as the test
 * files see it, and what keeps them independent on it: every request from a client IP of its own
 * (CF-Connecting-IP), every account at a fresh address.
 */

declare module "vitest" {
  export interface ProvidedContext {
    devServer: {
      /** `http://127.0.0.1:<port>` */
      base: string;
      port: number;
      /** Its --persist-to directory (local D1, KV, Durable Objects). */
      persistDir: string;
      /** Its stdout and stderr so far, for failure messages. */
      logFile: string;
    };
    webhooks: {
      /** The receiver the server's WEBHOOK_URL names. */
      url: string;
      /** `GET ?contains=<text>[&contains=…]&timeout_ms=<n>`: the first delivery containing every text (test/dev/webhook-receiver.mjs). */
      waitUrl: string;
      secret: string;
    };
  }
}

/** A random client address in 10.0.0.0/8 (2^24 of them: a run's few dozen never meet). */
export function uniqueDevIp(): string {
  const [a, b, c] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c}`;
}

/** An address no other test (or earlier run) uses. */
export function uniqueDevEmail(prefix: string): string {
  return `${prefix}.${Date.now().toString(36)}.${crypto.randomUUID().slice(0, 8)}@example.com`;
}

/** POSTs JSON to the shared server from `ip` (a fresh one unless given). */
export function devPost(path: string, body: unknown, ip = uniqueDevIp()): Promise<Response> {
  return fetch(`${inject("devServer").base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "CF-Connecting-IP": ip },
    body: JSON.stringify(body),
  });
}
