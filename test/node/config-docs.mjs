// Node-side plumbing for test/node/config-docs.test.ts (types in config-docs.d.mts: the project's
// type check has no @types/node): the configuration reference's marked, generated block, read and
// rewritten.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/** The guide that holds the generated table, relative to the repository (for messages). */
export const CONFIG_DOC = "docs/configuration.md";
const path = resolve(import.meta.dirname, "../..", CONFIG_DOC);
export const START = "<!-- config-table:start -->";
export const END = "<!-- config-table:end -->";

/** Where the block is in `text`, markers included, or null when a marker is missing. */
function locate(/** @type {string} */ text) {
  const start = text.indexOf(START);
  const end = text.indexOf(END, start);
  return start < 0 || end < 0 ? null : { start, end: end + END.length };
}

/** The guide's configuration block, markers included; null when the markers are missing. */
export function configBlock() {
  const text = readFileSync(path, "utf8");
  const at = locate(text);
  return at && text.slice(at.start, at.end);
}

/**
 * Replaces the guide's configuration block with `block` (markers included); the rest of the guide
 * stays as written.
 * @param {string} block
 */
export function writeConfigBlock(block) {
  const text = readFileSync(path, "utf8");
  const at = locate(text);
  if (!at) throw new Error(`${CONFIG_DOC} has no ${START} … ${END} block`);
  writeFileSync(path, text.slice(0, at.start) + block + text.slice(at.end));
}

/** `npm run docs:config` sets UPDATE_CONFIG_DOCS=1: rewrite the block instead of failing. */
export const updating = process.env.UPDATE_CONFIG_DOCS === "1";
