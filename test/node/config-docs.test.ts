import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import type { Variable } from "../../src/config/define";
import { renderConfigTable } from "../../src/config/docs";
import { SECTIONS } from "../../src/config/sections";
import { CONFIG_DOC, configBlock, END, START, updating, writeConfigBlock } from "./config-docs.mjs";
import { projectToml } from "./fake-wrangler.mjs";

/**
 * The configuration reference's table (docs/configuration.md) is generated from the declarations in
 * src/config/: this fails when the two differ and prints the block to paste; `npm run docs:config`
 * writes it instead.
 */

const declared = SECTIONS.flatMap((section) => Object.entries<Variable>(section.variables));

describe("the configuration reference's table", () => {
  it("is the one the declarations render", () => {
    const expected = `${START}\n${renderConfigTable()}\n${END}`;
    const actual = configBlock();
    expect(actual, `${CONFIG_DOC} needs ${START} … ${END} around the configuration table`).not.toBeNull();
    if (actual === expected) return;
    if (updating) return writeConfigBlock(expected);
    throw new Error(
      `${CONFIG_DOC}'s configuration table is out of date: run \`npm run docs:config\`, or replace the block with:\n\n${expected}\n`,
    );
  });

  it("has every variable once, each with a description", () => {
    const names = declared.map(([name]) => name);
    expect(new Set(names).size).toBe(names.length);
    for (const [name, v] of declared) expect(v.doc.trim(), name).not.toBe("");
  });

  it("declares every variable wrangler.toml sets", () => {
    const names = new Set(declared.map(([name]) => name));
    const vars = (parse(projectToml()) as { vars?: Record<string, unknown> }).vars ?? {};
    expect(Object.keys(vars).filter((name) => !names.has(name))).toEqual([]);
  });
});
