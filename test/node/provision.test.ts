import { parse } from "smol-toml";
import { afterEach, describe, expect, it } from "vitest";
import {
  enableReplicationRequest,
  findExistingId,
  parseCreatedId,
  planProvision,
  replicationMode,
  writeIds,
} from "../../scripts/provision-plan.mjs";
import { startFakeCloudflareApi } from "./fake-cloudflare-api.mjs";
import { fakeWrangler, projectToml, type FakeWrangler } from "./fake-wrangler.mjs";

/** `npm run provision` creates what wrangler.toml declares and writes the ids back. */

const D1_ID = "5c3f0a8e-1b2d-4e6f-8a9b-0c1d2e3f4a5b";
const KV_ID = "0123456789abcdef0123456789abcdef";

/** What wrangler 4.155 prints for a TOML config (src/utils/add-created-resource-config.ts). */
const D1_CREATED = `✅ Successfully created DB 'gatehouse' in region WEUR
Created your new D1 database.

To access your new D1 Database in your Worker, add the following snippet to your configuration file:
[[d1_databases]]
binding = "gatehouse"
database_name = "gatehouse"
database_id = "${D1_ID}"
`;
const KV_CREATED = `🌀 Creating namespace with title "AUTH_KV"
✨ Success!
To access your new KV Namespace in your Worker, add the following snippet to your configuration file:
[[kv_namespaces]]
binding = "AUTH_KV"
id = "${KV_ID}"
`;

describe("provision plan", () => {
  it("lists the D1 database, the KV namespace and every queue of wrangler.toml, placeholders as missing ids", () => {
    expect(planProvision(parse(projectToml()), undefined)).toEqual([
      { kind: "d1", name: "gatehouse", binding: "DB", id: undefined },
      { kind: "kv", name: "AUTH_KV", binding: "AUTH_KV", id: undefined },
      { kind: "queue", name: "gatehouse-webhooks" },
      { kind: "queue", name: "gatehouse-webhooks-dlq" },
    ]);
  });

  it("reads ids from TOML and JSON snippets, and from the list commands", () => {
    expect(parseCreatedId("d1", D1_CREATED)).toBe(D1_ID);
    expect(parseCreatedId("d1", `{"d1_databases":[{"binding":"DB","database_id": "${D1_ID}"}]}`)).toBe(D1_ID);
    expect(parseCreatedId("kv", KV_CREATED)).toBe(KV_ID);
    expect(parseCreatedId("kv", `{ "kv_namespaces": [ { "binding": "AUTH_KV", "id": "${KV_ID}" } ] }`)).toBe(KV_ID);
    expect(parseCreatedId("kv", "✘ [ERROR] failed")).toBeUndefined();
    expect(findExistingId("d1", `[{"uuid":"${D1_ID}","name":"gatehouse"}]`, "gatehouse", undefined)).toBe(D1_ID);
    expect(findExistingId("kv", `[{"id":"${KV_ID}","title":"production-AUTH_KV"}]`, "AUTH_KV", "production")).toBe(KV_ID);
    expect(findExistingId("kv", `[{"id":"${KV_ID}","title":"production-AUTH_KV"}]`, "AUTH_KV", undefined)).toBeUndefined();
  });

  it("writes the ids into their blocks and changes no other line", () => {
    const before = projectToml();
    const after = writeIds(
      before,
      [
        { kind: "d1", binding: "DB", id: D1_ID },
        { kind: "kv", binding: "AUTH_KV", id: KV_ID },
      ],
      undefined,
    );
    const changed = after.split("\n").filter((line, i) => line !== before.split("\n")[i]);
    expect(changed).toEqual([`database_id = "${D1_ID}"`, `id = "${KV_ID}"`]);
    expect(parse(after)).toMatchObject({ d1_databases: [{ database_id: D1_ID }], kv_namespaces: [{ id: KV_ID }] });
  });
});

// Each run spawns Node and the fake wrangler several times: slow on a loaded two-core machine.
describe("npm run provision (scripts/provision.mjs) against a fake wrangler", { timeout: 30_000 }, () => {
  let fake: FakeWrangler | undefined;
  afterEach(() => fake?.remove());

  it("creates everything, writes the ids, finds read replication on; a second run creates nothing", () => {
    fake = fakeWrangler(
      [
        { command: "d1 create gatehouse", stdout: D1_CREATED },
        { command: "kv namespace create AUTH_KV", stdout: KV_CREATED },
        {
          command: "queues create gatehouse-webhooks-dlq",
          stderr: "✘ [ERROR] A request to the Cloudflare API failed. Queue name already taken [code: 11009]",
          status: 1,
        },
        { command: "queues create gatehouse-webhooks", stdout: "✅ Created queue 'gatehouse-webhooks'" },
        { command: "d1 info gatehouse --json", stdout: `{"uuid":"${D1_ID}","name":"gatehouse","read_replication":{"mode":"auto"}}` },
      ],
      projectToml(),
    );
    const run = fake.run("provision.mjs", ["--config", fake.config]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(fake.calls()).toEqual([
      ["d1", "create", "gatehouse", "--config", fake.config],
      ["kv", "namespace", "create", "AUTH_KV", "--config", fake.config],
      ["queues", "create", "gatehouse-webhooks", "--config", fake.config],
      ["queues", "create", "gatehouse-webhooks-dlq", "--config", fake.config],
      ["d1", "info", "gatehouse", "--json", "--config", fake.config],
    ]);
    expect(parse(fake.readConfig())).toMatchObject({ d1_databases: [{ database_id: D1_ID }], kv_namespaces: [{ id: KV_ID }] });
    expect(run.stdout).toContain("queue gatehouse-webhooks-dlq: already exists");
    expect(run.stdout).toContain("D1 read replication of gatehouse: already on");

    const again = fake.run("provision.mjs", ["--config", fake.config]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`D1 database gatehouse: already in ${fake.config} (${D1_ID})`);
    expect(
      fake
        .calls()
        .slice(5)
        .map((c) => c.slice(0, 2)),
    ).toEqual([
      ["queues", "create"],
      ["queues", "create"],
      ["d1", "info"],
    ]);
  });

  it("looks up an existing database's id, and exits 1 with wrangler's output when a create fails", () => {
    fake = fakeWrangler(
      [
        { command: "d1 create", stderr: "✘ [ERROR] A database with that name already exists", status: 1 },
        { command: "d1 list --json", stdout: `[{"uuid":"${D1_ID}","name":"gatehouse"}]` },
        { command: "kv namespace create", stderr: "✘ [ERROR] Not logged in.", status: 1 },
        { command: "queues create", stdout: "✅ Created queue" },
      ],
      projectToml(),
    );
    const run = fake.run("provision.mjs", ["--config", fake.config]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`D1 database gatehouse: exists, id ${D1_ID}`);
    expect(run.stderr).toContain("KV namespace AUTH_KV: wrangler failed");
    expect(run.stderr).toContain("Not logged in.");
    expect(parse(fake.readConfig())).toMatchObject({
      d1_databases: [{ database_id: D1_ID }],
      kv_namespaces: [{ id: "00000000000000000000000000000000" }],
    });
  });
});

describe("npm run provision switches D1 read replication on", { timeout: 30_000 }, () => {
  let fake: FakeWrangler | undefined;
  afterEach(() => fake?.remove());

  it("reads the mode from wrangler d1 info, and builds the API request for a token or a global key", () => {
    expect(replicationMode('{"name":"gatehouse","read_replication":{"mode":"auto"}}')).toBe("auto");
    expect(replicationMode('{"name":"gatehouse"}')).toBe("disabled");
    expect(replicationMode("✘ [ERROR] not json")).toBeUndefined();
    const request = enableReplicationRequest({
      apiBase: "https://api.example/v4/",
      accountId: "acc",
      databaseId: D1_ID,
      auth: { type: "oauth", token: "t0k" },
    });
    expect(request.url).toBe(`https://api.example/v4/accounts/acc/d1/database/${D1_ID}`);
    expect(request.init).toMatchObject({
      method: "PUT",
      headers: { Authorization: "Bearer t0k" },
      body: '{"read_replication":{"mode":"auto"}}',
    });
    const keyed = enableReplicationRequest({
      apiBase: "x",
      accountId: "a",
      databaseId: "d",
      auth: { type: "api_key", key: "k", email: "e@x" },
    });
    expect(keyed.init.headers).toMatchObject({ "X-Auth-Key": "k", "X-Auth-Email": "e@x" });
  });

  it("turns it on through the API with wrangler's login when it is off, and fails with the manual steps when the API refuses", async () => {
    const api = await startFakeCloudflareApi();
    try {
      const toml = projectToml().replace('database_id = "00000000-0000-0000-0000-000000000000"', `database_id = "${D1_ID}"`);
      fake = fakeWrangler(
        [
          { command: "d1 info gatehouse --json", stdout: `{"uuid":"${D1_ID}","name":"gatehouse"}` },
          { command: "auth token --json", stdout: '{"type":"oauth","token":"oauth-token"}' },
          { command: "kv namespace create", stdout: KV_CREATED },
          { command: "queues create", stdout: "✅ Created queue" },
        ],
        toml,
      );
      const apiEnv = { CLOUDFLARE_API_BASE_URL: api.base, CLOUDFLARE_ACCOUNT_ID: "", CLOUDFLARE_API_TOKEN: "" };
      const run = await fake.runAsync("provision.mjs", ["--config", fake.config], apiEnv);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(run.stdout).toContain("D1 read replication of gatehouse: switched on (mode auto)");
      expect(api.seen).toEqual([
        { method: "GET", url: "/client/v4/accounts", auth: "Bearer oauth-token", body: "" },
        {
          method: "PUT",
          url: `/client/v4/accounts/acc-1/d1/database/${D1_ID}`,
          auth: "Bearer oauth-token",
          body: '{"read_replication":{"mode":"auto"}}',
        },
      ]);

      api.refuse(true);
      const refused = await fake.runAsync("provision.mjs", ["--config", fake.config], { ...apiEnv, CLOUDFLARE_ACCOUNT_ID: "acc-2" });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("D1 read replication of gatehouse: still off (the Cloudflare API refused: Authentication error)");
      expect(refused.stderr).toContain(`/d1/database/${D1_ID}`);
      expect(api.seen.at(-1)?.url).toBe(`/client/v4/accounts/acc-2/d1/database/${D1_ID}`);
    } finally {
      await api.close();
    }
  });
});
