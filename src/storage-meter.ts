/**
 * Counts a request's storage calls for its log line: how many of each kind, and how many
 * sequential round trips they cost. Calls that overlap in time (a `Promise.all`, a D1 batch) are one
 * round trip; a call that starts while nothing is in flight starts a new one. That is the number
 * that decides latency far from the D1 primary, so it is what the edge-latency work measures.
 */
export type StorageKind = "d1" | "kv" | "durable_object" | "queue";

export class StorageMeter {
  readonly calls: Record<StorageKind, number> = { d1: 0, kv: 0, durable_object: 0, queue: 0 };
  roundTrips = 0;
  private inFlight = 0;

  /** Runs `call` as one storage call of `kind`. */
  async track<T>(kind: StorageKind, call: () => Promise<T>): Promise<T> {
    this.calls[kind] += 1;
    if (this.inFlight === 0) this.roundTrips += 1;
    this.inFlight += 1;
    try {
      return await call();
    } finally {
      this.inFlight -= 1;
    }
  }
}
