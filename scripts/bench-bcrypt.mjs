#!/usr/bin/env node
// `npm run bench:bcrypt`: CPU time of one bcrypt check at cost 10 and 12 for the committed WebAssembly
// module (src/accounts/bcrypt.wasm, instantiated here in Node from that same file), bcryptjs (the
// JavaScript it replaced) and native C (Debian's python3-bcrypt), all in this one run, in interleaved
// rounds so a busy machine weighs on all three alike. Prints the medians as a Markdown table with the
// goals beside them (wasm ≤ 1.3× native, and faster than bcryptjs) and exits non-zero when one is missed.
//
// CPU time, not wall time: Node's thread CPU clock around each check, Python's time.thread_time().
// The wasm is driven the way src/accounts/bcrypt.ts drives it (key and salt into memory, hash(), 23
// bytes out); the wrapper's base64 and comparison add microseconds, not measured here.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import bcryptjs from "bcryptjs";
import { median } from "./bench-report.mjs";

const root = resolve(import.meta.dirname, "..");
const PASSWORD = "correct horse battery staple ✓";
/** [cost, checks per implementation per round, rounds]: cost 12 is four times cost 10. */
const PLAN = [
  [10, 3, 5],
  [12, 1, 5],
];
const GOAL_VS_NATIVE = 1.3;
const BCRYPTJS_VERSION = JSON.parse(readFileSync(resolve(root, "node_modules/bcryptjs/package.json"), "utf8")).version;
const ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// Native C: one Python process per round, timing each checkpw on its own thread's CPU clock.
const PYTHON_CHECKS = `
import json, sys, time
import bcrypt
password, stored, count = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3])
assert bcrypt.checkpw(password, stored), "native bcrypt refused the hash"
times = []
for _ in range(count):
    start = time.thread_time()
    bcrypt.checkpw(password, stored)
    times.append((time.thread_time() - start) * 1000)
print(json.dumps(times))
`;

/** The first Python that imports bcrypt (a pyenv `python3` may shadow the system one that has it). */
function findPython() {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const version = execFileSync(python, ["-c", "import bcrypt; print(bcrypt.__version__)"], { stdio: ["ignore", "pipe", "ignore"] });
      return { python, version: version.toString().trim() };
    } catch {
      // not this one
    }
  }
  console.error(
    "Native bcrypt is needed for the comparison and no python3 here imports it.\n" +
      "Install Debian's package: apt-get update && apt-get install -y python3-bcrypt",
  );
  process.exit(1);
}

/** CPU milliseconds of the calling thread (Node 23.9+), else of the process. */
function cpuMs() {
  const usage = process.threadCpuUsage?.() ?? process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function timeEach(count, check) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = cpuMs();
    check();
    times.push(cpuMs() - start);
  }
  return times;
}

/** bcrypt's base64 of `text` (checked) to bytes, as src/accounts/bcrypt.ts decodes it. */
function decode(text, length) {
  const bytes = new Uint8Array(length);
  let filled = 0;
  let bits = 0;
  let pending = 0;
  for (const char of text) {
    pending = (pending << 6) | ALPHABET.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (filled < length) bytes[filled++] = (pending >> bits) & 0xff;
      pending &= (1 << bits) - 1;
    }
  }
  return bytes;
}

/** One check with the committed module: the hash's 23 bytes recomputed and compared. */
function wasmChecker(stored) {
  const module = new WebAssembly.Module(readFileSync(resolve(root, "src/accounts/bcrypt.wasm")));
  const wasm = new WebAssembly.Instance(module, {}).exports;
  const memory = new Uint8Array(wasm.memory.buffer);
  const cost = Number(stored.slice(4, 6));
  const salt = decode(stored.slice(7, 29), 16);
  const expected = decode(stored.slice(29), 23);
  const key = new TextEncoder().encode(PASSWORD + "\0").subarray(0, 72);
  return () => {
    memory.set(key, wasm.KEY.value);
    memory.set(salt, wasm.SALT.value);
    wasm.hash(key.length, cost);
    const actual = memory.subarray(wasm.HASH.value, wasm.HASH.value + 23);
    if (!actual.every((byte, i) => byte === expected[i])) throw new Error(`the wasm module does not verify ${stored}`);
  };
}

const { python, version } = findPython();
const rows = [];
for (const [cost, perRound, rounds] of PLAN) {
  const stored = bcryptjs.hashSync(PASSWORD, cost);
  const wasmCheck = wasmChecker(stored);
  const bcryptjsCheck = () => {
    if (!bcryptjs.compareSync(PASSWORD, stored)) throw new Error(`bcryptjs does not verify ${stored}`);
  };
  // Warm-up: V8 compiles wasm in two tiers and JavaScript in several; the first checks run slower.
  timeEach(2, wasmCheck);
  timeEach(2, bcryptjsCheck);
  const samples = { wasm: [], bcryptjs: [], native: [] };
  for (let round = 0; round < rounds; round++) {
    samples.wasm.push(...timeEach(perRound, wasmCheck));
    samples.bcryptjs.push(...timeEach(perRound, bcryptjsCheck));
    const output = execFileSync(python, ["-c", PYTHON_CHECKS, PASSWORD, stored, String(perRound)]);
    samples.native.push(.../** @type {number[]} */ (JSON.parse(output.toString())));
    process.stderr.write(`[bench:bcrypt] cost ${cost}: round ${round + 1}/${rounds}\n`);
  }
  const wasm = median(samples.wasm);
  const js = median(samples.bcryptjs);
  const native = median(samples.native);
  rows.push({ cost, n: samples.wasm.length, wasm, js, native, vsNative: wasm / native, vsJs: wasm / js });
}

const ms = (value) => value.toFixed(1);
const ratio = (value) => `${value.toFixed(2)}×`;
const nativeMet = (row) => row.vsNative <= GOAL_VS_NATIVE;
const jsMet = (row) => row.vsJs < 1;
console.log(
  [
    `bcrypt CPU per check, medians (Node ${process.version}, bcryptjs ${BCRYPTJS_VERSION}, native: ${python} bcrypt ${version})`,
    "",
    "| cost | checks each | native C ms | wasm ms | bcryptjs ms | wasm / native | goal | wasm / bcryptjs | goal |",
    "|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ...rows.map(
      (row) =>
        `| ${row.cost} | ${row.n} | ${ms(row.native)} | ${ms(row.wasm)} | ${ms(row.js)} | ${ratio(row.vsNative)} | ` +
        `≤ ${GOAL_VS_NATIVE}× ${nativeMet(row) ? "met" : "MISSED"} | ${ratio(row.vsJs)} | < 1× ${jsMet(row) ? "met" : "MISSED"} |`,
    ),
  ].join("\n"),
);
if (!rows.every((row) => nativeMet(row) && jsMet(row))) process.exit(1);
