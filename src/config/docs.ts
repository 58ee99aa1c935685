import type { Variable } from "./define";
import { SECTIONS } from "./sections";

/**
 * The configuration reference's table, rendered from the declarations so it cannot drift from what
 * the worker reads. test/node/config-docs.test.ts compares it with the marked block of
 * docs/configuration.md; `npm run docs:config` rewrites that block.
 */

/** The markdown table (header and one row per variable, in section order) for docs/configuration.md. */
export function renderConfigTable(): string {
  const rows = SECTIONS.flatMap((section) =>
    Object.entries<Variable>(section.variables).map(
      ([name, v]) => `| \`${name}\` | ${v.kind} | ${cell(shownDefault(v))} | ${cell(v.doc)} |`,
    ),
  );
  return ["| variable | kind | default | what it does |", "|---|---|---|---|", ...rows].join("\n");
}

/** What the schema makes of an unset variable is the default, so the table cannot contradict it. */
function shownDefault(v: Variable): string {
  const shown = v.shown ?? formatValue(v.schema.safeParse(undefined).data);
  return v.note ? `${shown} (${v.note})` : shown;
}

function formatValue(value: unknown): string {
  if (value === undefined) return "unset";
  if (Array.isArray(value)) return value.length === 0 ? "empty" : `\`${value.join(",")}\``;
  return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

/** A pipe would end the cell early. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}
