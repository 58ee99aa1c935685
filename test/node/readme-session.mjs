// Node-side plumbing for test/node/readme-session.test.ts (types in readme-session.d.mts: the
// project's type check has no @types/node): the first curl session of docs/getting-started.md, and a
// shell to run it.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

/** Where the session is written, relative to the repository, for messages. */
const SESSION_DOC = "docs/getting-started.md";
/** The heading the session follows. */
const SESSION_HEADING = "## A first session with curl";

/** The first ```sh block after the heading "A first session with curl" in docs/getting-started.md, exactly as written there. */
export function firstCurlSession() {
  const guide = readFileSync(resolve(root, SESSION_DOC), "utf8");
  const at = guide.search(new RegExp(`^${SESSION_HEADING}$`, "m"));
  const match = at < 0 ? null : /```sh\n([\s\S]*?)```/.exec(guide.slice(at));
  if (!match) throw new Error(`${SESSION_DOC} has no \`\`\`sh block after the heading "${SESSION_HEADING}"`);
  return /** @type {string} */ (match[1]);
}

/**
 * Runs `script` with bash, as a terminal would when it is pasted: every line, `set -e` not assumed
 * (a paste does not stop at a failing line), so the test checks what the last command printed.
 * @param {string} script
 */
export function runShell(script) {
  const run = spawnSync("bash", ["-c", script], { cwd: root, encoding: "utf8", timeout: 60_000 });
  return { status: run.status, stdout: run.stdout ?? "", stderr: run.stderr ?? "" };
}
