import { createDb, type Db } from "./client";
import type { StorageMeter } from "../storage-meter";

/**
 * Reads of credential state (the user and session an access token names, the API key and its
 * owner) that every authenticated request makes, served near the user instead of by the D1 primary:
 *
 * 1. the isolate's cache, for at most {@link ISOLATE_CACHE_MS};
 * 2. a D1 read replica (Sessions API, `withSession`), at least as new as the last write this isolate
 *    made for the user (its bookmark), so a user reads their own writes;
 * 3. the primary, whenever the replica or the cache would refuse.
 *
 * Only an answer that lets the request through is ever taken from the cache or a replica: every
 * refusal is the primary's. Revocation only moves forward (a revoked session, a newer credentials
 * epoch, a deactivated user), so a stale copy can only be wrong by still accepting a credential
 * that was revoked elsewhere, for at most the replica's lag plus {@link ISOLATE_CACHE_MS}; anything
 * new to it (a session that has not replicated yet) is looked up on the primary. A write in this
 * isolate to users, sessions or API keys empties its cache at once (see {@link ACCOUNT_WRITE}).
 */
// 400 ms: a stale replica read just before the revocation reaches the replica starts a new entry,
// so the bound is lag + this + a request or two. With the bench's 1 s lag that must stay under 2 s
// in the worst phase: 800 ms measured 2.09 s there (random phase, issue #35). A token check still
// reads its session at most about twice a second per isolate.
const ISOLATE_CACHE_MS = 400;

/** Entries and bookmarks an isolate keeps, each bounded. */
const MAX_ENTRIES = 10_000;

/** UPDATE or DELETE of account state: an isolate that ran one forgets what it cached. */
const ACCOUNT_WRITE = /^\s*(update|delete\s+from)\s+"?(users|sessions|api_keys)"?\s/i;

interface IsolateState {
  entries: Map<string, { at: number; value: unknown }>;
  /** The newest D1 bookmark of a write this isolate made, per user. */
  bookmarks: Map<string, string>;
}

/**
 * Per-isolate state, keyed by the bindings object (the runtime keeps one per isolate; the dev
 * simulation gives each simulated location its own).
 */
const isolates = new WeakMap<object, IsolateState>();

function isolateState(scope: object): IsolateState {
  let state = isolates.get(scope);
  if (!state) {
    state = { entries: new Map(), bookmarks: new Map() };
    isolates.set(scope, state);
  }
  return state;
}

/**
 * Drops entries too old to be served from the front of `entries`: every write goes to the end (see
 * `bounded`), so the oldest are first, and a long-lived isolate holds only the last moment's reads
 * instead of filling up to MAX_ENTRIES with ones it will never serve.
 */
function dropExpired(entries: Map<string, { at: number }>, now: number): void {
  for (const [key, entry] of entries) {
    if (now - entry.at < ISOLATE_CACHE_MS) return;
    entries.delete(key);
  }
}

function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}

/** A Sessions API session of `d1`, or `d1` itself where the binding has none. */
function openSession(d1: D1Database, constraintOrBookmark: string): D1Database | D1DatabaseSession {
  try {
    return typeof d1.withSession === "function" ? d1.withSession(constraintOrBookmark) : d1;
  } catch {
    // A binding that cannot open a session fails its queries the same way; let them say so (503).
    return d1;
  }
}

export interface ReplicaReads {
  /**
   * `query` from the cache, a replica or the primary, as described above; `accept` says whether an
   * answer lets the request through. `key` names the answer in the isolate's cache.
   */
  read<T>(key: string, userId: string | null, query: (db: Db) => Promise<T>, accept: (value: T) => boolean): Promise<T>;
  /**
   * `query` on a replica only (no cache, no primary): for a caller that fences what it read with a
   * conditional write on the primary, and asks the primary itself when the write does not match.
   */
  peek<T>(userId: string | null, query: (db: Db) => Promise<T>): Promise<T>;
  /**
   * Called once the request is done: remembers its writes' bookmark for `userId`'s next reads here,
   * and returns it (null when the request wrote nothing) for the client to carry.
   */
  settle(userId: string | null): string | null;
}

/**
 * The request's primary handle (a `first-primary` session, so its writes yield a bookmark) and its
 * replica reads. `scope` is the bindings object: the key of the isolate's state. The primary
 * handle is made on first use: most requests (a cached token check, `/health`, a page) never
 * touch it, and a Drizzle handle costs a walk over the whole schema.
 */
export function createDatabases(
  scope: object,
  d1: D1Database,
  meter: StorageMeter,
  clientBookmark: string | null = null,
): { readonly db: Db; replicas: ReplicaReads } {
  const state = isolateState(scope);
  let primarySession: D1Database | D1DatabaseSession | undefined;
  let primary: Db | undefined;
  let wrote = false;
  const db = (): Db =>
    (primary ??= createDb((primarySession = openSession(d1, "first-primary")), meter, (sql) => {
      wrote = true;
      if (ACCOUNT_WRITE.test(sql)) state.entries.clear();
    }));
  const near = (userId: string | null) => {
    // The newer of this isolate's last write for the user and the one the client carries.
    const known = userId === null ? undefined : state.bookmarks.get(userId);
    const bookmark = clientBookmark !== null && (known === undefined || clientBookmark > known) ? clientBookmark : known;
    return createDb(openSession(d1, bookmark ?? "first-unconstrained"), meter);
  };
  const replicas: ReplicaReads = {
    // A client's bookmark that D1 refuses must not cost the client its request: the primary answers.
    async peek(userId, query) {
      try {
        return await query(near(userId));
      } catch (error) {
        if (clientBookmark === null) throw error;
        return query(db());
      }
    },
    async read(key, userId, query, accept) {
      const now = Date.now();
      const hit = state.entries.get(key);
      if (hit && now - hit.at >= 0 && now - hit.at < ISOLATE_CACHE_MS) return hit.value as Awaited<ReturnType<typeof query>>;
      const fromReplica = await replicas.peek(userId, query);
      const value = accept(fromReplica) ? fromReplica : await query(db());
      if (accept(value)) {
        dropExpired(state.entries, Date.now());
        bounded(state.entries, key, { at: Date.now(), value });
      }
      return value;
    },
    settle(userId) {
      if (!wrote || !primarySession || !("getBookmark" in primarySession)) return null;
      const bookmark = primarySession.getBookmark();
      if (!bookmark) return null;
      const known = userId === null ? undefined : state.bookmarks.get(userId);
      if (userId !== null && (!known || bookmark > known)) bounded(state.bookmarks, userId, bookmark);
      return bookmark;
    },
  };
  return {
    get db() {
      return db();
    },
    replicas,
  };
}
