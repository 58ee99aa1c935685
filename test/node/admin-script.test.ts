import { describe, expect, it } from "vitest";
import { describeOutcome, planAdmin } from "../../scripts/admin-args.mjs";
import { runNodeScript } from "./admin-run.mjs";

/**
 * `npm run admin`'s plan (arguments → SQL) and how it reads wrangler's answer, without a database.
 * Against a real local D1 it runs in test/dev/admin-script.test.ts (`npm run test:dev`).
 */

const context = { now: 1_790_000_000_000, auditId: "0b6f7c1e-4a51-4c1e-9a0e-6b1f3f0d2a11" };
const plan = (argv: string[]) => planAdmin(argv, context);

/** The wrangler arguments before `--command <sql>`. */
const head = (argv: string[]) => plan(argv).args.slice(0, -2);
const sqlOf = (argv: string[]) => plan(argv).args.at(-1)!;

describe("planAdmin: arguments → one wrangler d1 execute", () => {
  it("targets the local dev database by default, --remote the deployed one", () => {
    expect(plan(["grant", "ada@example.com"])).toMatchObject({ action: "grant", email: "ada@example.com", remote: false });
    expect(head(["grant", "ada@example.com"])).toEqual(["d1", "execute", "DB", "--local", "--json", "--yes"]);
    expect(head(["revoke", "ada@example.com", "--remote"])).toEqual(["d1", "execute", "DB", "--remote", "--json", "--yes"]);
    expect(head(["--remote", "grant", "ada@example.com"])).toEqual(["d1", "execute", "DB", "--remote", "--json", "--yes"]);
    expect(plan(["grant", "ada@example.com", "--local"]).remote).toBe(false);
  });

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
      ["-c", "other.toml", "-e", "staging"],
      ["--config", "other.toml", "--env", "staging"],
    ],
    [
      ["--config=other.toml", "--env=staging"],
      ["--config", "other.toml", "--env", "staging"],
    ],
    [
      ["--cwd", "sub"],
      ["--cwd", "sub"],
    ],
  ])("passes %j through as %j (dev-args.mjs reads them)", (flags, forwarded) => {
    expect(head(["grant", "ada@example.com", ...flags])).toEqual(["d1", "execute", "DB", "--local", "--json", "--yes", ...forwarded]);
    expect(head([...flags, "grant", "ada@example.com"])).toEqual(["d1", "execute", "DB", "--local", "--json", "--yes", ...forwarded]);
  });

  it("stores the address as the API does: trimmed and lower-cased", () => {
    expect(plan(["grant", "  Ada.Lovelace+admin@Example.COM "]).email).toBe("ada.lovelace+admin@example.com");
  });

  it("doubles the one quote character an address may hold, and puts nothing else of the input in the SQL", () => {
    const sql = sqlOf(["grant", "O'Brien@example.com"]);
    expect(sql).toContain("email = 'o''brien@example.com'");
    expect(sql.replaceAll("'o''brien@example.com'", "").replaceAll(/'[^']*'/g, "")).not.toContain("brien");
  });

  it.each([
    ["a;b@example.com"],
    ["a b@example.com"],
    ['a"b@example.com'],
    ["a\\b@example.com"],
    ["x@example.com'; DROP TABLE users; --"],
    ["a--b@example.com; --"],
    ["ädä@example.com"],
    ["ada@localhost"],
    ["ada"],
    [""],
    [`${"a".repeat(65)}@example.com`],
    [`a@${"b".repeat(64)}.com`],
  ])("refuses %j", (email) => {
    expect(() => plan(["grant", email])).toThrow(/Not an address/);
  });

  it.each([
    [[], /Name a command/],
    [["promote", "ada@example.com"], /Unknown command promote/],
    [["grant"], /Name the account's email/],
    [["grant", "ada@example.com", "bob@example.com"], /Unexpected argument bob@example.com/],
    [["grant", "ada@example.com", "--port", "9000"], /Unknown option --port/],
    [["grant", "ada@example.com", "--var", "A:1"], /Unknown option --var/],
    [["grant", "ada@example.com", "--", "x"], /Unknown option --/],
    [["grant", "ada@example.com", "--remote", "--local"], /not both/],
    [["grant", "ada@example.com", "--remote", "--persist-to", "x"], /--persist-to is for the local database/],
  ])("refuses %j", (argv, message) => {
    expect(() => plan(argv)).toThrow(message);
  });

  it("audits and changes under one condition: a real change, and for a revoke another active superuser", () => {
    const grant = sqlOf(["grant", "ada@example.com"]).split("; ");
    expect(grant).toHaveLength(3);
    expect(grant[1]).toMatch(/^INSERT INTO audit_logs .*'admin\.superuser_granted'.* WHERE (.*) AND is_superuser = 0$/);
    expect(grant[2]).toMatch(/^UPDATE users SET is_superuser = 1, updated_at = 1790000000000 WHERE .* AND is_superuser = 0 RETURNING id$/);
    const revoke = sqlOf(["revoke", "ada@example.com"]).split("; ");
    for (const statement of revoke.slice(1)) expect(statement).toContain("AND is_superuser = 1 AND (SELECT count(*) FROM users AS o");
    expect(revoke[1]).toContain(`'${context.auditId}'`);
  });
});

describe("describeOutcome", () => {
  const local = { action: "grant" as const, email: "ada@example.com", remote: false };
  const output = (before: object | null, changed: boolean) => [
    { results: before ? [before] : [] },
    { results: [] },
    { results: changed ? [{ id: "u" }] : [] },
  ];
  const account = { id: "u", is_superuser: 0, is_active: 1, other_superusers: 0 };

  it("says when no account matched, and fails", () => {
    expect(describeOutcome(local, output(null, false))).toEqual({
      ok: false,
      message: "No account with the email ada@example.com in the local database. Register it first.",
    });
    expect(describeOutcome({ ...local, remote: true }, output(null, false)).message).toContain("the deployed database");
  });

  it("grants, or says it already was one; warns about a deactivated account", () => {
    expect(describeOutcome(local, output(account, true))).toEqual({ ok: true, message: expect.stringMatching(/^Granted/) as string });
    expect(describeOutcome(local, output({ ...account, is_superuser: 1 }, false)).message).toMatch(/^Already/);
    expect(describeOutcome(local, output({ ...account, is_active: 0 }, true)).message).toContain("deactivated");
  });

  it("revokes, refuses the last active superuser, and has nothing to do for a non-superuser", () => {
    const revoke = { ...local, action: "revoke" as const };
    expect(describeOutcome(revoke, output({ ...account, is_superuser: 1 }, true))).toMatchObject({
      ok: true,
      message: expect.stringMatching(/^Revoked/) as string,
    });
    expect(describeOutcome(revoke, output({ ...account, is_superuser: 1 }, false))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/last active/) as string,
    });
    expect(describeOutcome(revoke, output(account, false))).toMatchObject({
      ok: true,
      message: expect.stringMatching(/^Nothing to do/) as string,
    });
  });

  it("fails on output it does not understand", () => {
    expect(describeOutcome(local, { error: { text: "x" } }).ok).toBe(false);
  });
});

describe("npm run admin, as a script", () => {
  it("refuses a bad address before running anything (exit 2, usage)", () => {
    const run = runNodeScript("scripts/admin.mjs", ["grant", "x@example.com' OR 1=1 --"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("Usage: npm run admin");
  });
});
