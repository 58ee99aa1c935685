/**
 * The worker's own JavaScript heap under `wrangler dev`, read through wrangler's inspector proxy
 * (`--inspector-port`): a full garbage collection, then `Runtime.getHeapUsage` of the worker's
 * isolate (its Durable Objects run in it too). The soak judges a leak by this figure: workerd's
 * resident memory under wrangler dev grows by a gigabyte and more of its own over a run, so a leak
 * of a few hundred megabytes in the worker hides inside it; the heap after a collection is a few
 * megabytes and moves with what the worker keeps.
 *
 * One connection for the whole run: the proxy takes one client at a time, and while none is
 * connected it keeps every message of the runtime for the next one. Only these two methods are
 * sent: `Runtime.enable` would replay every console message the isolate kept.
 */

/** How long a reading may take before it counts as none (the collection waits for the isolate). */
const READ_WITHIN_MS = 15_000;

/**
 * Connects to the inspector proxy on `port` (loopback). `wake` makes a request of the worker: V8
 * runs a requested collection when the isolate next has work, and an idle one may have none.
 * @param {number} port
 * @param {() => Promise<unknown>} wake
 */
export async function openWorkerHeap(port, wake) {
  let socket = await connect(port);
  let nextId = 1;
  /** @type {Map<number, (message: any) => void>} */
  const waiting = new Map();
  /** The chunks of a heap snapshot being taken. @type {string[] | null} */
  let chunks = null;
  const listen = (ws) =>
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data));
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks?.push(message.params.chunk);
      // Everything else is the runtime's traffic for wrangler's own session: ignored.
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    });
  listen(socket);

  const call = (method, params = {}, within = READ_WITHIN_MS) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the inspector did not answer ${method} within ${within} ms`));
      }, within);
      waiting.set(id, (message) => {
        clearTimeout(timer);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result);
      });
      socket.send(JSON.stringify({ id, method, params }));
    });

  return {
    /** The isolate's used heap in MB after a full collection; null when the inspector did not answer. */
    async usedMb() {
      try {
        if (socket.readyState !== WebSocket.OPEN) {
          socket = await connect(port);
          listen(socket);
        }
        const collected = call("HeapProfiler.collectGarbage");
        await wake().catch(() => undefined);
        await collected;
        const usage = await call("Runtime.getHeapUsage");
        return Math.round((usage.usedSize / 1024 / 1024) * 10) / 10;
      } catch {
        return null;
      }
    },
    /**
     * A heap snapshot of the isolate (the format Chrome's DevTools loads), as text: for finding
     * what grew between two of them (`node scripts/heap-diff.mjs a b`).
     */
    async snapshot() {
      chunks = [];
      try {
        await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 120_000);
        return chunks.join("");
      } finally {
        chunks = null;
      }
    },
    close() {
      socket.close();
    },
  };
}

/** @param {number} port */
async function connect(port) {
  // The proxy refuses an upgrade without an Origin of a local host.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Origin: "http://127.0.0.1" } });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error(`no inspector on port ${port}`)), { once: true });
  });
  return ws;
}
