import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { readConfig, type Bindings, type Config } from "../src/config";
import { createDb } from "../src/db/client";
import type { StoredPrivateJwk } from "../src/db/signing-keys";
import { unwrapJwk, wrapJwk } from "../src/kernel/key-wrapping";
import { loadKeySet } from "../src/kernel/signing-keys";
import { brokenD1 } from "./broken-bindings";
import { call, captureLogs, env, freshIp, problem, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";

/**
 * Generated signing keys are kept in D1 wrapped: AES-GCM under a key derived with HKDF
 * from SIGNING_KEY_ENCRYPTION_SECRET (a published dev-only secret in dev mode). Clear rows from
 * before keep working and are wrapped on first read once the secret is set.
 */

const SECRET = "test-key-encryption-secret-0123456789abcdef";

/** Each load gets its own "now" far from the others, so the per-isolate key cache (60 s) never answers. */
let clock = Date.now() + 3_600_000;
function load(config: Config) {
  clock += 120_000;
  return loadKeySet(createDb(env.DB), config, clock);
}

function configFor(alg: Config["jwtAlg"], changes: Partial<Config> = {}): Config {
  return { ...readConfig(env), jwtAlg: alg, privateJwks: undefined, ...changes };
}

async function storedRows(alg: string): Promise<{ kid: string; private_jwk: string; status: string }[]> {
  const { results } = await env.DB.prepare("SELECT kid, private_jwk, status FROM signing_keys WHERE alg = ?")
    .bind(alg)
    .all<{ kid: string; private_jwk: string; status: string }>();
  return results;
}

/** A key row as the worker wrote it before wrapping existed: the private JWK in clear. */
async function insertClearRow(alg: string): Promise<{ kid: string; privateJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  await env.DB.prepare("INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, status, created_at) VALUES (?, ?, ?, ?, 'active', ?)")
    .bind(kid, alg, JSON.stringify(privateJwk), JSON.stringify(publicJwk), Date.now())
    .run();
  return { kid, privateJwk };
}

describe("generated signing keys in D1", () => {
  it("are stored wrapped, never with a private member in clear", async () => {
    await register(); // the suite's key exists
    const rows = await storedRows("ES256");
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const stored = JSON.parse(row.private_jwk) as Record<string, unknown>;
      expect(stored).toMatchObject({ wrapped: "A256GCM", kek: "dev" });
      expect(stored).not.toHaveProperty("d");
      expect(row.private_jwk).not.toMatch(/"d"/);
    }
    // The published key is the one stored: tokens verify with the JWKS as before.
    const { keys } = await (await call("/.well-known/jwks.json")).json<{ keys: JWK[] }>();
    expect(keys.map((k) => k.kid)).toEqual(expect.arrayContaining(rows.filter((r) => r.status === "active").map((r) => r.kid)));
  });

  it("with SIGNING_KEY_ENCRYPTION_SECRET set, wraps a clear row on first read and keeps signing with it", async () => {
    const { kid, privateJwk } = await insertClearRow("EdDSA");
    const keys = await load(configFor("EdDSA", { signingKeyEncryptionSecret: SECRET, devOutbox: false }));
    expect(keys.signing.kid).toBe(kid);
    const [row] = (await storedRows("EdDSA")).filter((r) => r.kid === kid);
    const stored = JSON.parse(row!.private_jwk) as StoredPrivateJwk;
    expect(stored).toMatchObject({ wrapped: "A256GCM", kek: "secret" });
    expect(await unwrapJwk(stored, kid, SECRET)).toEqual(privateJwk);
    // The next load reads the wrapped row; without the secret it cannot.
    expect((await load(configFor("EdDSA", { signingKeyEncryptionSecret: SECRET, devOutbox: false }))).signing.kid).toBe(kid);
    await expect(load(configFor("EdDSA", { signingKeyEncryptionSecret: undefined, devOutbox: false }))).rejects.toThrow(
      /SIGNING_KEY_ENCRYPTION_SECRET/,
    );
    await expect(load(configFor("EdDSA", { signingKeyEncryptionSecret: "another-secret-of-enough-length-0123456789" }))).rejects.toThrow(
      /does not decrypt/,
    );
  });

  it("outside dev mode, refuses to generate a key without the secret; clear rows still load", async () => {
    const production = configFor("PS256", { signingKeyEncryptionSecret: undefined, devOutbox: false });
    await expect(load(production)).rejects.toThrow(/JWT_PRIVATE_JWKS, or SIGNING_KEY_ENCRYPTION_SECRET/);
    expect(await storedRows("PS256")).toEqual([]);
    // A live deployment from before wrapping: its clear row keeps working until the secret is set.
    const { kid } = await insertClearRow("PS256");
    expect((await load(production)).signing.kid).toBe(kid);
    expect(JSON.parse((await storedRows("PS256"))[0]!.private_jwk)).toHaveProperty("d");
  });

  it("outside dev mode, never signs with a key wrapped under the published dev secret: a new key signs, the old one still verifies", async () => {
    // RS256: no other test uses it, so this test owns its rows.
    const dev = { JWT_ALG: "RS256" } as const;
    const live = { JWT_ALG: "RS256", DEV_OUTBOX: undefined, SIGNING_KEY_ENCRYPTION_SECRET: SECRET } as const;
    const user = await call("/api/v1/auth/register", {
      env: dev,
      body: { email: uniqueEmail("devkey"), password: STRONG_PASSWORD, full_name: "Dev Key" },
      ip: freshIp(),
    });
    expect(user.status).toBe(201);
    const { access_token: devToken, user: who } = await user.json<{ access_token: string; user: { email: string } }>();
    const devKid = decodeProtectedHeader(devToken).kid!;
    const signIn = (variant: Partial<Bindings>) =>
      call("/api/v1/auth/login", { body: { email: who.email, password: STRONG_PASSWORD }, ip: freshIp(), env: variant });
    expect(JSON.parse((await storedRows("RS256")).find((r) => r.kid === devKid)!.private_jwk)).toMatchObject({ kek: "dev" });

    // Deployed without a secret: nothing may sign, so sign-ins fail closed rather than use the dev
    // key, while what it signed still verifies.
    const bare = { JWT_ALG: "RS256", DEV_OUTBOX: undefined } as const;
    const logs = captureLogs();
    await problem(await signIn(bare), 500, "internal_error");
    expect(logs.problems()).toContainEqual(expect.objectContaining({ event: "signing_key.dev_key_refused", kids: [devKid] }));
    expect(logs.problems()).toContainEqual(expect.objectContaining({ event: "request.failed", error: "ConfigError" }));
    expect((await call("/api/v1/users/me", { token: devToken, env: bare })).status).toBe(200);

    // With the secret: a new key, wrapped with it, signs; the dev key is retired but still published.
    const signedIn = await signIn(live);
    expect(signedIn.status).toBe(200);
    const liveKid = decodeProtectedHeader((await signedIn.json<{ access_token: string }>()).access_token).kid!;
    expect(liveKid).not.toBe(devKid);
    expect(logs.problems()).toContainEqual(expect.objectContaining({ event: "signing_key.dev_key_retired", kids: [devKid] }));
    const rows = await storedRows("RS256");
    expect(rows.find((r) => r.kid === devKid)!.status).toBe("retired");
    expect(rows.find((r) => r.kid === liveKid)).toMatchObject({ status: "active" });
    expect(JSON.parse(rows.find((r) => r.kid === liveKid)!.private_jwk)).toMatchObject({ kek: "secret" });
    const { keys } = await (await call("/.well-known/jwks.json", { env: live })).json<{ keys: JWK[] }>();
    expect(keys.map((k) => k.kid)).toEqual(expect.arrayContaining([liveKid, devKid]));
    for (const key of keys) expect(key).not.toHaveProperty("d");
    // A token the dev key signed before still verifies.
    expect((await call("/api/v1/users/me", { token: devToken, env: live })).status).toBe(200);
  });

  it("binds a wrapped key to its kid", async () => {
    const wrapping = { kek: "secret" as const, secret: SECRET };
    const wrapped = await wrapJwk({ kty: "oct", k: "AAAA" }, "kid-a", wrapping);
    expect(await unwrapJwk(wrapped, "kid-a", SECRET)).toEqual({ kty: "oct", k: "AAAA" });
    await expect(unwrapJwk(wrapped, "kid-b", SECRET)).rejects.toThrow(/does not decrypt/);
  });

  it("refuses a key-encryption secret shorter than 32 characters", () => {
    expect(() => readConfig({ ...env, SIGNING_KEY_ENCRYPTION_SECRET: "short" })).toThrow(/SIGNING_KEY_ENCRYPTION_SECRET/);
  });
});

describe("the per-isolate key cache", () => {
  it("serves an older set at once and re-reads it after the response; a failed re-read keeps the old set", async () => {
    const logs = captureLogs();
    const config = configFor("ES256");
    const db = createDb(env.DB);
    const start = (clock += 120_000);
    const first = await loadKeySet(db, config, start);
    const later: Promise<unknown>[] = [];
    const waitUntil = (promise: Promise<unknown>) => void later.push(promise);

    // A minute on, with D1 unreachable: the set it had, at once; the re-read fails after the response.
    const stale = start + 61_000;
    expect(await loadKeySet(createDb(brokenD1()), config, stale, waitUntil)).toBe(first);
    expect(later).toHaveLength(1);
    await Promise.all(later);
    expect(logs.problems().map((line) => line.event)).toEqual(["signing_key.reload_failed"]);
    // Kept, and not asked for again at once.
    expect(await loadKeySet(db, config, stale + 1_000, waitUntil)).toBe(first);
    expect(later).toHaveLength(1);

    // Ten seconds on it is tried again, and the re-read set replaces the old one.
    expect(await loadKeySet(db, config, stale + 10_000, waitUntil)).toBe(first);
    expect(later).toHaveLength(2);
    await Promise.all(later);
    const reloaded = await loadKeySet(db, config, stale + 10_000, waitUntil);
    expect(reloaded).not.toBe(first);
    expect([...reloaded.byKid.keys()].sort()).toEqual([...first.byKid.keys()].sort());
    expect(later).toHaveLength(2);
  });
});
