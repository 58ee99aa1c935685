#!/usr/bin/env node
// `node scripts/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [--top N]`: what grew in a
// V8 heap between two snapshots (as `npm run soak -- --heap-snapshots <dir>` writes them), by
// constructor or kind: count and retained-by-itself bytes, the largest growth first.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({ options: { top: { type: "string", default: "25" } }, allowPositionals: true });
if (positionals.length !== 2) {
  console.error("usage: node scripts/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> [--top N]");
  process.exit(2);
}

/** Count and self size per `type:name` of a snapshot's nodes. */
function tally(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, "utf8"));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const byName = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]];
    // Strings are named by their contents: group them by kind, not by text.
    const name =
      type === "string" || type === "concatenated string" || type === "sliced string" ? type : `${type}:${strings[nodes[i + nameAt]]}`;
    const entry = byName.get(name) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += nodes[i + sizeAt];
    total += nodes[i + sizeAt];
    byName.set(name, entry);
  }
  return { byName, total };
}

const [before, after] = positionals.map(tally);
const rows = [...new Set([...before.byName.keys(), ...after.byName.keys()])]
  .map((name) => {
    const a = before.byName.get(name) ?? { count: 0, bytes: 0 };
    const b = after.byName.get(name) ?? { count: 0, bytes: 0 };
    return { name, count: b.count - a.count, bytes: b.bytes - a.bytes, after: b.count };
  })
  .sort((x, y) => y.bytes - x.bytes)
  .slice(0, Number(values.top));
const mb = (n) => (n / 1024 / 1024).toFixed(2);
console.log(`total: ${mb(before.total)} MB -> ${mb(after.total)} MB`);
for (const r of rows)
  console.log(`${mb(r.bytes).padStart(8)} MB ${String(r.count).padStart(8)} objects (now ${r.after})  ${r.name.slice(0, 100)}`);
