// The wrangler config of a dev-only entry (the geo bench's src/dev/geo-entry.ts, the soak's
// src/dev/fault-entry.ts): wrangler.toml with `main` pointed at that entry, written next to the
// run's throw-away state. The deployed entry, src/index.ts, carries neither.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * Writes `<dir>/<fileName>`: wrangler.toml with `main` = `entry` and every relative path made
 * absolute (the copy lives elsewhere), `flags` as its compatibility flags, plus `extra` TOML
 * appended; returns its path.
 * @param {string} dir
 * @param {{ entry: string, fileName: string, extra?: string, flags?: string[] }} options
 */
export function writeDevConfig(dir, { entry, fileName, extra = "", flags = [] }) {
  const root = process.cwd();
  const absolute = (/** @type {string} */ p) => JSON.stringify(resolve(root, p));
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8")
    .replace(/^main = "(.*)"$/m, () => `main = ${absolute(entry)}`)
    .replace(/^(compatibility_date = .*)$/m, (line) => (flags.length ? `${line}\ncompatibility_flags = ${JSON.stringify(flags)}` : line))
    .replace(/^("[^"]+") = "(\.\/[^"]*)"$/gm, (_, name, p) => `${name} = ${absolute(p)}`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, p) => `migrations_dir = ${absolute(p)}`)
    // The static assets (the message catalogues), which wrangler would look for beside this copy.
    .replace(/^directory = "(.*)"$/m, (_, p) => `directory = ${absolute(p)}`);
  const path = join(dir, fileName);
  writeFileSync(path, toml + extra);
  return path;
}
