import { describe, expect, inject, it } from "vitest";
import { DEMO_KEY_NAME, DEMO_PASSWORD } from "../../scripts/seed-args.mjs";
import { runNodeScript } from "../node/admin-run.mjs";
import { tailOf } from "../node/dev-server.mjs";
import { firstCurlSession, runShell } from "../node/readme-session.mjs";
import { devPost } from "./shared-server";

/**
 * Against a real `npm run dev` (the shared one of `npm run test:dev`, on a fresh --persist-to): the
 * first curl session of docs/getting-started.md runs as pasted (only the port differs), `npm run
 * seed` makes its demo data (twice: it is idempotent), and dev mode refuses a foreign Host the way a
 * DNS-rebinding page would send it. The block itself (its URLs, its JSON, its sed) is checked without a server in
 * test/node/readme-session.test.ts.
 */
describe("a fresh dev server, as the getting-started guide describes it", () => {
  it("runs the guide's first curl session, seeds demo data, and refuses foreign hosts", async () => {
    const { base, port, persistDir, logFile } = inject("devServer");

    // The guide's block, with this server's port: the last command must print Ada's profile.
    const pasted = runShell(firstCurlSession().replaceAll("localhost:8787", `localhost:${port}`));
    expect(pasted.stderr, tailOf(logFile)).toBe("");
    // curl -s prints no newline: the answers run together, and the profile (a UserResponse) is last.
    const profile = pasted.stdout.slice(pasted.stdout.lastIndexOf('{"id":'));
    expect(JSON.parse(profile), pasted.stdout).toMatchObject({ email: "ada@example.com", full_name: "Ada Lovelace" });

    // npm run seed, twice: accounts kept, the demo key replaced, credentials printed.
    const seedArgs = ["--port", String(port), "--persist-to", persistDir];
    const first = runNodeScript("scripts/seed.mjs", seedArgs);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`admin@example.com\\s+${DEMO_PASSWORD}\\s+superuser, created`));
    const second = runNodeScript("scripts/seed.mjs", seedArgs);
    expect(second.stderr, second.stdout).toBe("");
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/alice@example.com\s+.*existed/);
    const key = /^\s+(gh_\S+)$/m.exec(second.stdout)?.[1];
    expect(key).toBeDefined();
    const me = await fetch(`${base}/api/v1/users/me`, { headers: { authorization: `Bearer ${key}` } });
    expect((await me.json<{ email: string }>()).email).toBe("alice@example.com");
    // The first run's key was revoked: one demo key at a time.
    const login = await devPost("/api/v1/auth/login", { email: "alice@example.com", password: DEMO_PASSWORD });
    const { access_token } = await login.json<{ access_token: string }>();
    const keys = await fetch(`${base}/api/v1/users/me/api-keys`, { headers: { authorization: `Bearer ${access_token}` } });
    const listed = (await keys.json<{ api_keys: { name: string; revoked_at?: string | null }[] }>()).api_keys;
    expect(listed.filter((k) => k.name === DEMO_KEY_NAME && !k.revoked_at)).toHaveLength(1);
    // The superuser can use the admin API.
    const adminLogin = await devPost("/api/v1/auth/login", { email: "admin@example.com", password: DEMO_PASSWORD });
    const admin = await adminLogin.json<{ access_token: string }>();
    const users = await fetch(`${base}/api/v1/admin/users`, { headers: { authorization: `Bearer ${admin.access_token}` } });
    expect(users.status).toBe(200);

    // Dev mode: a request naming another host (DNS rebinding) is refused; *.localhost is fine.
    const status = (host: string) =>
      runShell(`curl -s -o /dev/null -w '%{http_code}' -H 'Host: ${host}' http://127.0.0.1:${port}/health`).stdout;
    expect(status("evil.example")).toBe("403");
    expect(status(`auth.example.localhost:${port}`)).toBe("200");
    expect(status(`127.0.0.1:${port}`)).toBe("200");
  });
});
