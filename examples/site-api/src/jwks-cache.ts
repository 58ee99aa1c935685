import type { HonoJsonWebKey } from "hono/utils/jwt/jws";

/**
 * Gatehouse's public keys, fetched at most once per `ttlMs` per isolate (Gatehouse serves them with
 * `max-age=300`), not once per request. A token naming a key the cache does not have (Gatehouse
 * just rotated) refetches at once, but no more than once per `refetchAfterMs`, so a stream of
 * tokens with made-up `kid`s cannot turn into a stream of JWKS fetches.
 */
export function createJwksCache(fetchKeys: () => Promise<HonoJsonWebKey[]>, { ttlMs = 300_000, refetchAfterMs = 30_000 } = {}) {
  let keys: HonoJsonWebKey[] | undefined;
  let fetchedAt = 0;
  let pending: Promise<HonoJsonWebKey[]> | undefined;

  const refresh = (now: number) => {
    // Concurrent requests share one fetch.
    pending ??= fetchKeys()
      .then((fresh) => {
        keys = fresh;
        fetchedAt = now;
        return fresh;
      })
      .finally(() => (pending = undefined));
    return pending;
  };

  return async (kid: string | undefined, now = Date.now()): Promise<HonoJsonWebKey[]> => {
    if (!keys || now - fetchedAt >= ttlMs) return refresh(now);
    const known = kid === undefined || keys.some((k) => k.kid === kid);
    if (!known && now - fetchedAt >= refetchAfterMs) return refresh(now);
    return keys;
  };
}

/** The `kid` of a compact JWT's header, without verifying anything (only to pick a key). */
export function kidOf(token: string | undefined): string | undefined {
  try {
    const header = JSON.parse(atob((token?.split(".")[0] ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as { kid?: unknown };
    return typeof header.kid === "string" ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
