// A fake `wrangler` for the tests of scripts that call it (preflight, provision): an executable
// put first on PATH that records its arguments and answers from a script of canned outputs.
// Types in fake-wrangler.d.mts (the project's type check has no @types/node).
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

const FAKE = `#!/usr/bin/env node
const fs = require("node:fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_WRANGLER_LOG, JSON.stringify(args) + "\\n");
const answers = JSON.parse(fs.readFileSync(process.env.FAKE_WRANGLER_ANSWERS, "utf8"));
const answer = answers.find((a) => args.join(" ").startsWith(a.command)) ?? { stderr: "fake wrangler: unexpected " + args.join(" "), status: 2 };
process.stdout.write(answer.stdout ?? "");
process.stderr.write(answer.stderr ?? "");
process.exit(answer.status ?? 0);
`;

/**
 * A directory with the fake wrangler, a config file (`wrangler.toml`) and the answers.
 * @param {{ command: string, stdout?: string, stderr?: string, status?: number }[]} answers
 *   matched by prefix of the space-joined arguments, first match wins
 * @param {string} toml the wrangler.toml the script under test reads
 */
export function fakeWrangler(answers, toml) {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-fake-wrangler-"));
  const bin = join(dir, "wrangler");
  writeFileSync(bin, FAKE);
  chmodSync(bin, 0o755);
  writeFileSync(join(dir, "package.json"), '{"type":"commonjs"}');
  writeFileSync(join(dir, "answers.json"), JSON.stringify(answers));
  writeFileSync(join(dir, "wrangler.toml"), toml);
  const log = join(dir, "calls.log");
  writeFileSync(log, "");
  const envFor = (/** @type {Record<string, string>} */ extra) => ({
    ...process.env,
    PATH: `${dir}${delimiter}${process.env.PATH}`,
    FAKE_WRANGLER_LOG: log,
    FAKE_WRANGLER_ANSWERS: join(dir, "answers.json"),
    ...extra,
  });
  return {
    config: join(dir, "wrangler.toml"),
    /** Runs `node scripts/<script> <args>` from the project root with the fake first on PATH. */
    run(/** @type {string} */ script, /** @type {string[]} */ args, /** @type {Record<string, string>} */ extraEnv = {}) {
      const result = spawnSync(process.execPath, [join(root, "scripts", script), ...args], {
        cwd: root,
        env: envFor(extraEnv),
        encoding: "utf8",
        timeout: 30_000,
      });
      return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
    },
    /** The same, without blocking this process (for a test that serves HTTP to the script meanwhile). */
    runAsync(/** @type {string} */ script, /** @type {string[]} */ args, /** @type {Record<string, string>} */ extraEnv = {}) {
      const child = spawn(process.execPath, [join(root, "scripts", script), ...args], { cwd: root, env: envFor(extraEnv) });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
    },
    /** Every call's arguments, in order. */
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => /** @type {string[]} */ (JSON.parse(line))),
    readConfig: () => readFileSync(join(dir, "wrangler.toml"), "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The project's own wrangler.toml, as a fixture to start from. */
export function projectToml() {
  return readFileSync(join(root, "wrangler.toml"), "utf8");
}
