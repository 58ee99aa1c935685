// The README tutorial's commands, read from the README itself (scripts/check-tutorial.mjs runs them;
// test/node/tutorial-blocks.test.ts holds the parsing).
import { readFileSync } from "node:fs";

/** The tutorial terminals of the README at `path`. */
export function readmeTerminals(path = "README.md") {
  return tutorialTerminals(readFileSync(path, "utf8"));
}

/**
 * Every ```sh block whose first line starts with `# tutorial` is one terminal of the tutorial; its
 * other lines that are not comments or blank are its commands, in order (comments after a command,
 * `cmd  # why`, are the reader's, not the shell's concern, and are kept).
 * @param {string} markdown
 * @returns {string[][]} the commands of each terminal, in the README's order
 */
export function tutorialTerminals(markdown) {
  const terminals = [];
  for (const match of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    const lines = /** @type {string} */ (match[1]).split("\n");
    if (!lines[0]?.startsWith("# tutorial")) continue;
    const commands = lines.slice(1).filter((line) => line.trim() !== "" && !line.trim().startsWith("#"));
    if (commands.length === 0) throw new Error(`a tutorial block has no command: ${lines[0]}`);
    terminals.push(commands.map((line) => line.trim()));
  }
  return terminals;
}
