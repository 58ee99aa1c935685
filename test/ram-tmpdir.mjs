// Where the test runtime keeps its throw-away storage: Miniflare puts every D1 database, KV namespace
// and Durable Object of a run in a fresh directory under os.tmpdir(), one SQLite file per object. On
// a disk that is an fsync per write and a file per new object, and the tests make thousands (fresh
// client IPs and addresses are fresh rate-limit objects): on this project's two-core Linux machines
// a new Durable Object cost about 14 ms on disk and 4 ms in RAM, and the workers project ran in
// two thirds of the time. Types in ram-tmpdir.d.mts (the project's type check has no @types/node).
import { accessSync, constants } from "node:fs";

/**
 * Points TMPDIR at /dev/shm (memory) for this process and the processes it starts, unless TMPDIR is
 * already set or there is no writable /dev/shm (macOS, Windows): then nothing changes. The storage
 * is removed when the run ends, as before.
 */
export function preferRamTmpdir() {
  if (process.env.TMPDIR) return;
  try {
    accessSync("/dev/shm", constants.W_OK);
  } catch {
    return;
  }
  process.env.TMPDIR = "/dev/shm";
}
