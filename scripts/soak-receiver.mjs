// The loopback webhook receiver of `npm run soak`: checks each delivery's Standard Webhooks
// signature, de-duplicates by `webhook-id`, and fails a share of deliveries on purpose (a receiver
// that is sometimes down), so retries are part of the run.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

/** A fresh `whsec_` secret (24 random bytes, base64), as WEBHOOK_SECRET takes it. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString("base64")}`;

/**
 * Whether `signatures` (the `webhook-signature` header: space-separated `v1,<base64>`) holds the
 * HMAC-SHA256 of `<id>.<timestamp>.<body>` under `secret`.
 * @param {string} secret
 * @param {{ id: string, timestamp: string, body: string, signatures: string }} delivery
 */
export function signedBy(secret, { id, timestamp, body, signatures }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",");
    const given = Buffer.from(value ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * Starts the receiver on 127.0.0.1 (any free port).
 * @param {{ secret: string, failRate: number }} options
 */
export async function startReceiver({ secret, failRate }) {
  /** Deliveries accepted per event id (the first is the event; the rest are duplicates dropped). */
  const received = new Map();
  const counts = { posts: 0, failedOnPurpose: 0, badSignatures: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      counts.posts += 1;
      const delivery = {
        id: String(req.headers["webhook-id"] ?? ""),
        timestamp: String(req.headers["webhook-timestamp"] ?? ""),
        body: Buffer.concat(chunks).toString("utf8"),
        signatures: String(req.headers["webhook-signature"] ?? ""),
      };
      if (!delivery.id || !signedBy(secret, delivery)) {
        counts.badSignatures += 1;
        res.writeHead(400).end();
        return;
      }
      if (Math.random() < failRate) {
        counts.failedOnPurpose += 1;
        res.writeHead(503).end();
        return;
      }
      received.set(delivery.id, (received.get(delivery.id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    counts,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
