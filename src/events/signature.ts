import { base64, hmacSha256, utf8 } from "../crypto";

/**
 * The Standard Webhooks headers of one attempt: `webhook-signature` holds `v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">` for each key, space-separated (two while a secret is being rotated).
 */
export async function webhookHeaders(id: string, timestamp: number, body: string, keys: Uint8Array[]): Promise<Record<string, string>> {
  const signed = utf8(`${id}.${timestamp}.${body}`);
  const signatures = await Promise.all(keys.map(async (key) => `v1,${base64(await hmacSha256(key, signed))}`));
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}
