// Node-side plumbing for test/node/config-docs.test.ts (types in config-docs.d.mts: the project's
// type check has no @types/node): README.md's marked configuration block, read and rewritten.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const readme = resolve(import.meta.dirname, "../../README.md");
export const START = "<!-- config-table:start -->";
export const END = "<!-- config-table:end -->";

/** Where the block is in `text`, markers included, or null when a marker is missing. */
function locate(/** @type {string} */ text) {
  const start = text.indexOf(START);
  const end = text.indexOf(END, start);
  return start < 0 || end < 0 ? null : { start, end: end + END.length };
}

/** README.md's configuration block, markers included; null when the markers are missing. */
export function readmeConfigBlock() {
  const text = readFileSync(readme, "utf8");
  const at = locate(text);
  return at && text.slice(at.start, at.end);
}

/**
 * Replaces README.md's configuration block with `block` (markers included).
 * @param {string} block
 */
export function writeReadmeConfigBlock(block) {
  const text = readFileSync(readme, "utf8");
  const at = locate(text);
  if (!at) throw new Error(`README.md has no ${START} … ${END} block`);
  writeFileSync(readme, text.slice(0, at.start) + block + text.slice(at.end));
}

/** `npm run docs:config` sets UPDATE_CONFIG_DOCS=1: rewrite the block instead of failing. */
export const updating = process.env.UPDATE_CONFIG_DOCS === "1";
