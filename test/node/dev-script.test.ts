import { describe, expect, it } from "vitest";
import { localStateDir, planDev } from "../../scripts/dev-args.mjs";

/** `npm run dev`'s arguments, without a server (a real `npm run dev` is test/dev/dev-script.test.ts, `npm run test:dev`). */

const MIGRATE = ["d1", "migrations", "apply", "DB", "--local"];

/** planDev in /proj with these files (absolute path → contents) and nothing else on disk. */
function plan(argv: string[], files: Record<string, string> = {}, env: Record<string, string> = {}) {
  return planDev(argv, { cwd: "/proj", readFile: (path) => files[path], env });
}

/** The `wrangler dev` arguments we expect: the user's flags, then DEV_OUTBOX and the URL vars. */
function devArgs(argv: string[], url?: string, names = ["PUBLIC_URL", "JWT_ISSUER"]) {
  const urlVars = url ? names.flatMap((name) => ["--var", `${name}:${url}`]) : [];
  return ["dev", ...argv, "--var", "DEV_OUTBOX:true", ...urlVars];
}

describe("planDev: the public URL and issuer follow the listen address", () => {
  it("without flags leaves both to wrangler.toml and migrates the default state", () => {
    expect(plan([])).toEqual({ migrate: MIGRATE, dev: devArgs([]), publicUrl: "http://localhost:8787", derived: [] });
  });

  it.each([
    [["--port", "9000"], "http://localhost:9000"],
    [["--port=9000"], "http://localhost:9000"],
    [["--ip", "127.0.0.1", "--port", "9000"], "http://127.0.0.1:9000"],
    [["--ip=127.0.0.1", "--port=9000"], "http://127.0.0.1:9000"],
    [["--ip", "0.0.0.0", "--port", "9000"], "http://localhost:9000"],
    [["--ip", "0.0.0.0"], "http://localhost:8787"],
    [["--ip", "::"], "http://localhost:8787"],
    [["--ip", "0:0:0:0:0:0:0:0", "--port", "9000"], "http://localhost:9000"],
    [["--ip", "::1", "--port", "9000"], "http://[::1]:9000"],
    [["--ip", "[::1]", "--port", "9000"], "http://[::1]:9000"],
    [["--ip", "fd00::7", "--port", "9000"], "http://[fd00::7]:9000"],
    [["--port", "9000", "--local-protocol", "https"], "https://localhost:9000"],
    [["--local-protocol=https"], "https://localhost:8787"],
    [["--localProtocol", "https", "--port", "9443"], "https://localhost:9443"],
  ])("%j → %s", (argv, url) => {
    const result = plan(argv);
    expect(result.publicUrl).toBe(url);
    expect(result.derived).toEqual(["PUBLIC_URL", "JWT_ISSUER"]);
    expect(result.dev).toEqual(devArgs(argv, url));
    expect(result.migrate).toEqual(MIGRATE);
  });

  it("takes the last --port when one is repeated", () => {
    expect(plan(["--port", "9000", "--port", "9001"]).publicUrl).toBe("http://localhost:9001");
  });

  it("adds nothing for --port 0, whose port is only known once bound", () => {
    expect(plan(["--port", "0"]).dev).toEqual(devArgs(["--port", "0"]));
  });

  it("keeps a leading script path a positional: our greedy --var comes after the user's flags", () => {
    const argv = ["src/index.ts", "--port", "9000"];
    expect(plan(argv).dev).toEqual(devArgs(argv, "http://localhost:9000"));
  });

  it("puts our vars before a `--`, after which wrangler reads only positionals", () => {
    expect(plan(["--port", "9000", "--", "src/index.ts"]).dev).toEqual([
      ...devArgs(["--port", "9000"], "http://localhost:9000"),
      "--",
      "src/index.ts",
    ]);
  });
});

describe("planDev: values the user set are kept", () => {
  const url = "http://localhost:9000";

  it.each([
    [["--port", "9000", "--var", "PUBLIC_URL:https://auth.test"]],
    [["--port", "9000", "--var=PUBLIC_URL:https://auth.test"]],
    // yargs arrays: every word after --var up to the next flag is a value
    [["--port", "9000", "--var", "A:1", "PUBLIC_URL:https://auth.test"]],
    [["--var=A:1", "PUBLIC_URL:https://auth.test", "--port", "9000"]],
  ])("--var PUBLIC_URL in %j", (argv) => {
    const result = plan(argv);
    expect(result.derived).toEqual(["JWT_ISSUER"]);
    expect(result.dev).toEqual(devArgs(argv, url, ["JWT_ISSUER"]));
  });

  it("both set with --var: adds neither", () => {
    const argv = ["--port", "9000", "--var", "PUBLIC_URL:https://a.test", "JWT_ISSUER:https://a.test"];
    expect(plan(argv).dev).toEqual(devArgs(argv));
  });

  it("keeps a --var DEV_OUTBOX of the user's and adds DEV_OUTBOX:true otherwise", () => {
    expect(plan(["--var", "DEV_OUTBOX:false"]).dev).toEqual(["dev", "--var", "DEV_OUTBOX:false"]);
    expect(plan(["--var", "A:1"]).dev).toEqual(["dev", "--var", "A:1", "--var", "DEV_OUTBOX:true"]);
  });

  it("reads .dev.vars in the working directory (KEY=VALUE, export, quotes, comments)", () => {
    const files = { "/proj/.dev.vars": '# local\nexport PUBLIC_URL="https://tunnel.test"\nOTHER=1\n' };
    expect(plan(["--port", "9000"], files).derived).toEqual(["JWT_ISSUER"]);
    expect(plan(["--port", "9000"], { "/proj/.dev.vars": "JWT_ISSUER = x\nPUBLIC_URL=y" }).derived).toEqual([]);
    expect(plan(["--port", "9000"], { "/proj/.dev.vars": "# PUBLIC_URL=old\nMY_PUBLIC_URL=x" }).derived).toEqual([
      "PUBLIC_URL",
      "JWT_ISSUER",
    ]);
  });

  it("with --env reads .dev.vars.<env> instead of .dev.vars, as wrangler does", () => {
    const files = { "/proj/.dev.vars": "JWT_ISSUER=a", "/proj/.dev.vars.staging": "PUBLIC_URL=b" };
    expect(plan(["--port", "9000", "--env", "staging"], files).derived).toEqual(["JWT_ISSUER"]);
    expect(plan(["--port", "9000", "-e", "staging"], files).derived).toEqual(["JWT_ISSUER"]);
    expect(plan(["--port", "9000", "--env=other"], files).derived).toEqual(["PUBLIC_URL"]);
  });

  it("falls back to the .env files only when there is no .dev.vars", () => {
    const dotenv = { "/proj/.env": "PUBLIC_URL=a", "/proj/.env.staging.local": "JWT_ISSUER=b" };
    expect(plan(["--port", "9000"], dotenv).derived).toEqual(["JWT_ISSUER"]);
    expect(plan(["--port", "9000", "-e=staging"], dotenv).derived).toEqual([]);
    expect(plan(["--port", "9000"], { ...dotenv, "/proj/.dev.vars": "X=1" }).derived).toEqual(["PUBLIC_URL", "JWT_ISSUER"]);
    expect(plan(["--port", "9000"], dotenv, { CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false" }).derived).toEqual([
      "PUBLIC_URL",
      "JWT_ISSUER",
    ]);
  });

  it("counts the process environment only when CLOUDFLARE_INCLUDE_PROCESS_ENV=true", () => {
    expect(plan(["--port", "9000"], {}, { PUBLIC_URL: "a" }).derived).toEqual(["PUBLIC_URL", "JWT_ISSUER"]);
    expect(plan(["--port", "9000"], {}, { PUBLIC_URL: "a", CLOUDFLARE_INCLUDE_PROCESS_ENV: "true" }).derived).toEqual(["JWT_ISSUER"]);
  });

  it("with --env-file reads those files, next to the config, and skips .dev.vars", () => {
    const files = { "/proj/.dev.vars": "PUBLIC_URL=a", "/proj/local.env": "JWT_ISSUER=b", "/proj/cfg/c.env": "PUBLIC_URL=c" };
    expect(plan(["--port", "9000", "--env-file", "local.env"], files).derived).toEqual(["PUBLIC_URL"]);
    expect(plan(["--port", "9000", "--env-file", "local.env", "/proj/cfg/c.env"], files).derived).toEqual([]);
    expect(plan(["--port", "9000", "-c", "cfg/wrangler.toml", "--env-file=c.env"], files).derived).toEqual(["JWT_ISSUER"]);
  });

  it("looks for .dev.vars next to --config, and under --cwd", () => {
    const files = { "/proj/deploy/.dev.vars": "PUBLIC_URL=a" };
    expect(plan(["--port", "9000", "--config", "deploy/wrangler.toml"], files).derived).toEqual(["JWT_ISSUER"]);
    expect(plan(["--port", "9000", "-c=deploy/wrangler.toml"], files).derived).toEqual(["JWT_ISSUER"]);
    expect(plan(["--port", "9000", "--cwd", "deploy"], files).derived).toEqual(["JWT_ISSUER"]);
    expect(plan(["--port", "9000"], files).derived).toEqual(["PUBLIC_URL", "JWT_ISSUER"]);
  });
});

describe("planDev: the migrations use the dev server's config, environment and state", () => {
  it.each([
    [
      ["--persist-to", "/tmp/state"],
      ["--persist-to", "/tmp/state"],
    ],
    [["--persist-to=/tmp/state"], ["--persist-to", "/tmp/state"]],
    [
      ["--persistTo", "/tmp/state"],
      ["--persist-to", "/tmp/state"],
    ],
    [
      ["--env", "staging"],
      ["--env", "staging"],
    ],
    [["--env=staging"], ["--env", "staging"]],
    [
      ["-e", "staging"],
      ["--env", "staging"],
    ],
    [["-e=staging"], ["--env", "staging"]],
    [
      ["--config", "other.toml"],
      ["--config", "other.toml"],
    ],
    [["--config=other.toml"], ["--config", "other.toml"]],
    [
      ["-c", "other.toml"],
      ["--config", "other.toml"],
    ],
    [
      ["--cwd", "sub"],
      ["--cwd", "sub"],
    ],
    [
      ["--env-file", "a.env", "b.env"],
      ["--env-file", "a.env", "--env-file", "b.env"],
    ],
  ])("%j → %j", (argv, forwarded) => {
    const result = plan(argv);
    expect(result.migrate).toEqual([...MIGRATE, ...forwarded]);
    expect(result.dev).toEqual(devArgs(argv));
  });

  it("passes none of the dev-only flags", () => {
    const argv = [
      ...["--port", "9000", "--ip", "127.0.0.1", "--local-protocol", "https", "--inspector-port", "9300"],
      ...["--var", "A:1", "B:2", "--define", "X:1", "--live-reload", "--log-level", "warn", "--remote"],
      ...["--persist-to", "state", "-e", "staging", "-c", "w.toml"],
    ];
    expect(plan(argv).migrate).toEqual([...MIGRATE, "--config", "w.toml", "--env", "staging", "--persist-to", "state"]);
  });

  it("reads no flags after `--`", () => {
    expect(plan(["--", "--persist-to", "x"]).migrate).toEqual(MIGRATE);
  });
});

describe("planDev --site: Gatehouse as the auth subdomain of a local site", () => {
  const SITE = "http://app.example.localhost:5173";

  it("serves as auth.<parent>:<port> with the site's origin allowed, passkeys on the parent and loopback limits relaxed", () => {
    const result = plan(["--site", SITE]);
    const auth = "http://auth.example.localhost:8787";
    expect(result.publicUrl).toBe(auth);
    expect(result.derived).toEqual(["PUBLIC_URL", "JWT_ISSUER"]);
    expect(result.dev).toEqual([
      "dev",
      ...["--var", "DEV_OUTBOX:true", "--var", `PUBLIC_URL:${auth}`, "--var", `JWT_ISSUER:${auth}`],
      ...["--var", `CORS_ORIGINS:${SITE}`, "--var", "WEBAUTHN_RP_ID:example.localhost", "--var", "DEV_LOOPBACK_LIMITS:relaxed"],
    ]);
    expect(result.site).toMatchObject({ origin: SITE, rpId: "example.localhost", kept: [] });
  });

  it("follows --port, takes --site=… too, and never hands --site to wrangler or the migrations", () => {
    const result = plan([`--site=${SITE}/some/path`, "--port", "9000", "--persist-to", "state"]);
    expect(result.publicUrl).toBe("http://auth.example.localhost:9000");
    expect(result.dev.join(" ")).not.toContain("--site");
    expect(result.migrate).toEqual([...MIGRATE, "--persist-to", "state"]);
    expect(result.site?.vars.CORS_ORIGINS).toBe(SITE);
  });

  it("keeps what the user set, with --var or in .dev.vars", () => {
    const result = plan(["--site", SITE, "--var", "CORS_ORIGINS:http://a.localhost,http://b.localhost"], {
      "/proj/.dev.vars": "WEBAUTHN_RP_ID=localhost\n",
    });
    expect(result.site?.kept).toEqual(["CORS_ORIGINS", "WEBAUTHN_RP_ID"]);
    expect(result.dev.filter((word) => word.startsWith("CORS_ORIGINS") || word.startsWith("WEBAUTHN_RP_ID"))).toEqual([
      "CORS_ORIGINS:http://a.localhost,http://b.localhost",
    ]);
  });

  it("a site on plain localhost shares the name and differs by port", () => {
    expect(plan(["--site", "http://localhost:5173"]).publicUrl).toBe("http://localhost:8787");
    expect(plan(["--site", "http://app.localhost:3000"]).site?.rpId).toBe("localhost");
  });

  it.each([
    [["--site"], "needs your site's URL"],
    [["--site", "--port", "9000"], "needs your site's URL"],
    [["--site", "not a url"], "must be a URL"],
    [["--site", "ftp://app.example.localhost"], "http(s)"],
    [["--site", "http://127.0.0.1:5173"], "localhost name"],
    [["--site", "https://app.example.com"], "localhost name"],
    [["--site", "http://auth.example.localhost:5173"], "where Gatehouse would answer"],
    [["--site", "http://localhost:8787"], "another with --port"],
    [["--site", SITE, "--port", "0"], "known port"],
    [["--site", SITE, "--site", SITE], "once"],
  ])("%j is refused: %s", (argv, message) => {
    expect(() => plan(argv)).toThrow(message);
  });

  it("after `--`, --site is wrangler's business", () => {
    expect(plan(["--", "--site", SITE]).site).toBeUndefined();
  });
});

describe("localStateDir: the local database a wrangler command uses", () => {
  it("is the last --persist-to, else wrangler's default", () => {
    expect(localStateDir(["d1", "migrations", "apply", "DB", "--local"])).toBe(".wrangler/state (the default)");
    expect(localStateDir(["--persist-to", "a", "--persist-to", "b"])).toBe("b");
  });
});
