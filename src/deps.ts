import { createDb, guardKv, type Db } from "./db/client";
import { readConfig, type Bindings, type Config } from "./config";
import { loadKeySet, type KeySet } from "./sessions/signing-keys";

/** Who is asking: recorded on sessions and audit rows. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/**
 * Everything a service function needs, built once per request from the bindings. Services take
 * this (or a part of it) as an argument and never touch `env` or Hono themselves.
 */
export interface Deps {
  db: Db;
  kv: KVNamespace;
  env: Bindings;
  config: Config;
  now: () => Date;
  keys: () => Promise<KeySet>;
  /** Work that may finish after the response (mail, best-effort bookkeeping). */
  waitUntil: (promise: Promise<unknown>) => void;
}

export function createDeps(env: Bindings, waitUntil: (promise: Promise<unknown>) => void): Deps {
  const config = readConfig(env);
  const db = createDb(env.DB);
  const now = () => new Date();
  return {
    db,
    kv: guardKv(env.AUTH_KV),
    env,
    config,
    now,
    keys: () => loadKeySet(db, config, now().getTime()),
    waitUntil,
  };
}
