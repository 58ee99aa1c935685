// Node-side plumbing for test/node/readme-session.test.ts (types in readme-session.d.mts: the
// project's type check has no @types/node): the README's first curl session, and a shell to run it.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

/** The first ```sh block after "A first session with curl" in README.md, exactly as written there. */
export function readmeFirstSession() {
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const at = readme.indexOf("A first session with curl");
  const match = at < 0 ? null : /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match) throw new Error("README.md has no curl session after 'A first session with curl'");
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
