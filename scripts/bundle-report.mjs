#!/usr/bin/env node
// `npm run bundle [-- --runs N]`: the worker's script as `wrangler deploy` would upload it, in Markdown:
// its gzip size beside the goal, what it is made of (by package and by src/ folder), and its start-up
// CPU. Nothing is deployed: `wrangler deploy --dry-run` builds the bundle and its esbuild metafile.
//
// Each part's gzip share is an estimate: gzip compresses the script as one stream, so no part has a
// size of its own. The source map says which output bytes came from which input; each part's bytes
// are compressed on their own, and the shares are scaled so that they add up to wrangler's total.
//
// Start-up: what Cloudflare limits as a script's start-up time is parsing, compiling and running its
// top level. workerd does that on the first request, not before it listens, so the measure is the
// CPU (all threads, from /proc) a fresh workerd spends from its start to the first response, for a
// worker that imports the bundle and answers without touching it, minus the same for an empty worker;
// the two interleaved, the median of each. Linux only (it reads /proc).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { parse } from "smol-toml";

const root = resolve(import.meta.dirname, "..");
export const GOAL_GZIP_KIB = 150;

/** The part an input file belongs to: its npm package, or its folder under src/ (a file directly in src/ stands alone). */
export function partOf(file) {
  const path = file.replace(/\\/g, "/");
  const nodeModules = path.lastIndexOf("node_modules/");
  if (nodeModules >= 0) {
    const [scope, name] = path.slice(nodeModules + "node_modules/".length).split("/");
    return scope?.startsWith("@") ? `${scope}/${name}` : (scope ?? path);
  }
  const src = path.indexOf("src/");
  if (src >= 0) {
    const rest = path.slice(src).split("/");
    return rest.length > 2 ? `${rest[0]}/${rest[1]}` : rest.join("/");
  }
  return path;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** A source map's `mappings`: per generated line, its segments as [generated column, source index]. */
export function decodeMappings(mappings) {
  const lines = [];
  let source = 0;
  for (const line of mappings.split(";")) {
    const segments = [];
    let column = 0;
    for (const segment of line.split(",")) {
      if (segment === "") continue;
      const fields = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += fields[0];
      if (fields.length > 1) source += fields[1];
      segments.push([column, fields.length > 1 ? source : -1]);
    }
    lines.push(segments);
  }
  return lines;
}

const withoutExtension = (path) => path.replace(/\.[cm]?[jt]sx?$/, "");

/**
 * The part of each source the map names. A package whose own source maps point outside it
 * (drizzle-orm's name `../src/…`, which resolves to node_modules/src/…) is found by the file's path
 * below its package among the bundle's inputs.
 */
export function partsOfSources(sources, inputs) {
  const known = new Set(inputs.map(partOf));
  const belowPackage = new Map();
  for (const input of inputs) {
    const below = /node_modules\/(?:@[^/]+\/)?[^/]+\/(.+)$/.exec(input)?.[1];
    if (below) belowPackage.set(withoutExtension(below), partOf(input));
  }
  return sources.map((source) => {
    const part = partOf(source);
    if (known.has(part)) return part;
    const below = /node_modules\/src\/(.+)$/.exec(source)?.[1];
    return (below && belowPackage.get(withoutExtension(below))) ?? part;
  });
}

/** The script's text split by part, from its source map. Text no mapping covers is "(esbuild runtime, unmapped)". */
export function textByPart(script, map, mapDir, inputs) {
  const parts = partsOfSources(
    map.sources.map((source) => relative(root, resolve(mapDir, source))),
    inputs,
  );
  const texts = new Map();
  const add = (part, text) => texts.set(part, (texts.get(part) ?? "") + text);
  const decoded = decodeMappings(map.mappings);
  script.split("\n").forEach((line, n) => {
    const segments = decoded[n] ?? [];
    let at = 0;
    let part = "(esbuild runtime, unmapped)";
    for (const [column, source] of segments) {
      add(part, line.slice(at, column));
      at = column;
      part = source >= 0 ? parts[source] : "(esbuild runtime, unmapped)";
    }
    add(part, `${line.slice(at)}\n`);
  });
  return texts;
}

/** `wrangler deploy --dry-run` into `outdir`: wrangler's own size line, and the paths of the script, its map and the metafile. */
function buildBundle(outdir) {
  const metafile = join(outdir, "meta.json");
  const dist = join(outdir, "dist");
  const run = spawnSync(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", dist, "--metafile", metafile], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", FORCE_COLOR: "0" },
  });
  const output = `${run.stdout}${run.stderr}`;
  const size = /Total Upload:\s*(?:\S*?)([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(output);
  if (run.status !== 0 || !size) throw new Error(`wrangler deploy --dry-run failed:\n${output}`);
  return { rawKiB: Number(size[1]), gzipKiB: Number(size[2]), dist, metafile };
}

/** Per part: minified bytes (esbuild's metafile) and the estimated gzip share. */
function breakdown({ dist, metafile, gzipKiB }) {
  const meta = JSON.parse(readFileSync(metafile, "utf8"));
  const [, output] = Object.entries(meta.outputs).find(([path]) => path.endsWith("index.js"));
  const raw = new Map();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
    raw.set(partOf(input), (raw.get(partOf(input)) ?? 0) + bytesInOutput);
  const script = readFileSync(join(dist, "index.js"), "utf8");
  const texts = textByPart(script, JSON.parse(readFileSync(join(dist, "index.js.map"), "utf8")), dist, Object.keys(output.inputs));
  const alone = new Map([...texts].map(([part, text]) => [part, gzipSync(text).length]));
  const aloneTotal = [...alone.values()].reduce((a, b) => a + b, 0);
  const parts = [...new Set([...raw.keys(), ...alone.keys()])].map((part) => ({
    part,
    rawBytes: raw.get(part) ?? Buffer.byteLength(texts.get(part) ?? ""),
    gzipKiB: ((alone.get(part) ?? 0) / aloneTotal) * gzipKiB,
  }));
  return { parts: parts.sort((a, b) => b.gzipKiB - a.gzipKiB), scriptBytes: Buffer.byteLength(script) };
}

function freePort() {
  return new Promise((done, fail) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
    server.on("error", fail);
  });
}

function listening(port) {
  return new Promise((done) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => (socket.destroy(), done(true)));
    socket.on("error", () => done(false));
  });
}

/** CPU time of a process so far, all its threads, in ms (schedstat: nanoseconds on a CPU). */
function cpuMs(pid) {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return ns / 1e6;
}

/** A workerd config serving `entry` with the given modules (names relative to `dir`). */
function workerdConfig(entry, modules, { compatibilityDate, compatibilityFlags }) {
  const kinds = modules.map((name) => `(name = "${name}", ${name.endsWith(".wasm") ? "wasm" : "esModule"} = embed "${name}")`);
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "*:0", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "${entry}", esModule = embed "${entry}"), ${kinds.join(", ")} ],
  compatibilityDate = "${compatibilityDate}",
  compatibilityFlags = [${compatibilityFlags.map((f) => `"${f}"`).join(", ")}],
);
`;
}

/** One fresh workerd: CPU and wall time from its start to the first response. */
async function firstResponse(dir, config) {
  const port = await freePort();
  const started = performance.now();
  const workerd = spawn(join(root, "node_modules/workerd/bin/workerd"), ["serve", config, "--socket-addr", `http=127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  workerd.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((done) => workerd.on("exit", done));
  try {
    while (!(await listening(port))) {
      if (workerd.exitCode !== null) throw new Error(`workerd exited: ${stderr}`);
      await new Promise((done) => setTimeout(done, 2));
    }
    const res = await fetch(`http://127.0.0.1:${port}/`);
    const body = await res.text();
    if (body !== "ok") throw new Error(`unexpected answer ${res.status}: ${body.slice(0, 200)}`);
    return { cpuMs: cpuMs(workerd.pid), wallMs: performance.now() - started };
  } finally {
    workerd.kill();
    await exited;
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Start-up of the bundle in `dist` against an empty worker, `runs` fresh workerd processes each, interleaved. */
async function startup(dist, runs) {
  const { compatibility_date: compatibilityDate, compatibility_flags: compatibilityFlags = [] } = parse(
    readFileSync(join(root, "wrangler.toml"), "utf8"),
  );
  const settings = { compatibilityDate, compatibilityFlags };
  const modules = readdirSync(dist).filter((name) => /\.(m?js|wasm)$/.test(name));
  // The probe imports the bundle, so its whole top level runs before the first answer; it never calls it.
  writeFileSync(
    join(dist, "probe.js"),
    `import * as gatehouse from "./index.js";\nexport default { fetch: () => new Response(typeof gatehouse.default.fetch === "function" ? "ok" : "no") };\n`,
  );
  writeFileSync(join(dist, "empty.js"), `export default { fetch: () => new Response("ok") };\n`);
  writeFileSync(join(dist, "probe.capnp"), workerdConfig("probe.js", modules, settings));
  writeFileSync(join(dist, "empty.capnp"), workerdConfig("empty.js", [], settings));
  // One of each first, not counted: the files into the page cache, the binary warmed.
  await firstResponse(dist, "empty.capnp");
  await firstResponse(dist, "probe.capnp");
  const empty = [];
  const bundle = [];
  for (let i = 0; i < runs; i++) {
    empty.push(await firstResponse(dist, "empty.capnp"));
    bundle.push(await firstResponse(dist, "probe.capnp"));
  }
  const summary = (samples) => ({ cpuMs: median(samples.map((s) => s.cpuMs)), wallMs: median(samples.map((s) => s.wallMs)) });
  const diffs = bundle.map((b, i) => ({ cpuMs: b.cpuMs - empty[i].cpuMs, wallMs: b.wallMs - empty[i].wallMs }));
  return { runs, empty: summary(empty), bundle: summary(bundle), difference: summary(diffs) };
}

const kib = (bytes) => (bytes / 1024).toFixed(1);

/** The report as Markdown. */
export function renderReport({ size, parts, scriptBytes, start }, { rows = 30 } = {}) {
  const lines = [
    "## Worker bundle",
    "",
    "| | now | goal |",
    "|---|---:|---:|",
    `| gzip (wrangler's "Total Upload") | ${size.gzipKiB.toFixed(2)} KiB | ≤ ${GOAL_GZIP_KIB} KiB |`,
    `| minified | ${size.rawKiB.toFixed(2)} KiB | |`,
    "",
    "### By package and src/ folder",
    "",
    "| part | minified KiB | share of minified | gzip KiB (estimate) |",
    "|---|---:|---:|---:|",
  ];
  const shown = parts.slice(0, rows);
  const rest = parts.slice(rows);
  for (const { part, rawBytes, gzipKiB } of shown)
    lines.push(`| ${part} | ${kib(rawBytes)} | ${((rawBytes / scriptBytes) * 100).toFixed(1)} % | ${gzipKiB.toFixed(1)} |`);
  if (rest.length > 0) {
    const rawBytes = rest.reduce((a, p) => a + p.rawBytes, 0);
    const gzipKiB = rest.reduce((a, p) => a + p.gzipKiB, 0);
    lines.push(
      `| ${rest.length} smaller parts | ${kib(rawBytes)} | ${((rawBytes / scriptBytes) * 100).toFixed(1)} % | ${gzipKiB.toFixed(1)} |`,
    );
  }
  lines.push(
    "",
    "Gzip per part: each part's own output compressed alone, scaled so the parts add up to the total (gzip has no per-part size).",
  );
  if (start) {
    lines.push(
      "",
      "### Start-up CPU (fresh workerd, start to first response)",
      "",
      `| worker | CPU ms (median of ${start.runs}) | wall ms (median) |`,
      "|---|---:|---:|",
      `| empty worker | ${start.empty.cpuMs.toFixed(1)} | ${start.empty.wallMs.toFixed(0)} |`,
      `| importing the bundle | ${start.bundle.cpuMs.toFixed(1)} | ${start.bundle.wallMs.toFixed(0)} |`,
      `| **the bundle's start-up** (median of the paired differences) | **${start.difference.cpuMs.toFixed(1)}** | ${start.difference.wallMs.toFixed(0)} |`,
      "",
      "CPU is all of workerd's threads (V8 compiles on background threads too): parsing, compiling and running the script's top level.",
    );
  }
  return `${lines.join("\n")}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const runsAt = process.argv.indexOf("--runs");
  const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 15;
  const outdir = mkdtempSync(join(tmpdir(), "gatehouse-bundle-"));
  try {
    const size = buildBundle(outdir);
    const { parts, scriptBytes } = breakdown(size);
    const start = runs > 0 ? await startup(size.dist, runs) : undefined;
    process.stdout.write(renderReport({ size, parts, scriptBytes, start }));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
