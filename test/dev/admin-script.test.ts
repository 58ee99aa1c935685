import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runNodeScript, wrangler } from "../node/admin-run.mjs";
import { makeTempDir, removeDir } from "../node/dev-server.mjs";

/**
 * `npm run admin` against a real local D1 (no dev server: the database wrangler keeps in a
 * --persist-to directory of this file's own, since the assertions read every superuser and audit
 * row). Its plan and its reading of wrangler's answer are unit-tested in test/node/admin-script.test.ts.
 */

describe("npm run admin, against a real local database", () => {
  const persistDir = makeTempDir("gatehouse-admin-test-");
  const local = ["--persist-to", persistDir];
  const sql = (command: string) =>
    (JSON.parse(wrangler(["d1", "execute", "DB", "--local", ...local, "--json", "--command", command])) as { results: unknown[] }[])[0]!
      .results;
  const admin = (...args: string[]) => runNodeScript("scripts/admin.mjs", [...args, ...local]);
  // Every local run also names the database it wrote, since a dev server with other flags has its own.
  const database = `(local D1 database in ${persistDir}; a dev server started with another --persist-to, --config or --env has its own: pass the same flags here)`;

  beforeAll(() => {
    wrangler(["d1", "migrations", "apply", "DB", "--local", ...local]);
    sql(
      "INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at) VALUES " +
        "('00000000-0000-4000-8000-000000000001', 'o''brien@example.com', 'x', 'A', 1, 1), " +
        "('00000000-0000-4000-8000-000000000002', 'bob@example.com', 'x', 'B', 1, 1)",
    );
  });

  afterAll(() => removeDir(persistDir));

  it("grants, refuses to revoke the last superuser, revokes once another exists, audits each change", () => {
    const granted = admin("grant", "O'Brien@Example.com");
    expect(granted.stdout.trim().split("\n"), granted.stderr).toEqual([
      "Granted: o'brien@example.com is a superuser in the local database.",
      database,
    ]);
    expect(granted.status).toBe(0);
    expect(sql("SELECT email FROM users WHERE is_superuser = 1")).toEqual([{ email: "o'brien@example.com" }]);

    const refused = admin("revoke", "o'brien@example.com");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("last active superuser");

    expect(admin("grant", "bob@example.com").status).toBe(0);
    const revoked = admin("revoke", "o'brien@example.com");
    expect(revoked.stdout.trim().split("\n"), revoked.stderr).toEqual([
      "Revoked: o'brien@example.com is no longer a superuser in the local database.",
      database,
    ]);
    expect(sql("SELECT email FROM users WHERE is_superuser = 1")).toEqual([{ email: "bob@example.com" }]);
    expect(sql("SELECT action, user_id, actor_user_id, metadata FROM audit_logs ORDER BY created_at, action")).toEqual([
      {
        action: "admin.superuser_granted",
        user_id: "00000000-0000-4000-8000-000000000001",
        actor_user_id: null,
        metadata: '{"via":"npm run admin"}',
      },
      {
        action: "admin.superuser_granted",
        user_id: "00000000-0000-4000-8000-000000000002",
        actor_user_id: null,
        metadata: '{"via":"npm run admin"}',
      },
      {
        action: "admin.superuser_revoked",
        user_id: "00000000-0000-4000-8000-000000000001",
        actor_user_id: null,
        metadata: '{"via":"npm run admin"}',
      },
    ]);
  });

  it("says when no account matched, and exits 1", () => {
    const run = admin("grant", "nobody@example.com");
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("No account with the email nobody@example.com in the local database.");
  });
});
