import { describe, expect, inject, it } from "vitest";
import { listFiles } from "../node/dev-server.mjs";
import { devPost, uniqueDevEmail, uniqueDevIp } from "./shared-server";

/**
 * A real `npm run dev` (started once for `npm run test:dev` by global-setup.mjs with `--port` and
 * `--persist-to`): its migrations landed in the --persist-to directory and its tokens name the
 * --port address. How the arguments are planned is unit-tested in test/node/dev-script.test.ts.
 */
describe("npm run dev, end to end", () => {
  it("applies the migrations into --persist-to and issues tokens for the --port address", async () => {
    const { base, port, persistDir } = inject("devServer");
    // The dev server itself applies no migrations: a working registration below means they went here.
    expect(listFiles(persistDir).filter((file) => file.startsWith("v3/d1/"))).not.toEqual([]);

    const outbox = await fetch(`${base}/api/v1/dev/outbox?to=a@b.c`, { headers: { "CF-Connecting-IP": uniqueDevIp() } });
    expect(outbox.status).toBe(200);

    const registered = await devPost("/api/v1/auth/register", {
      email: uniqueDevEmail("dev"),
      password: "correct horse battery staple 42",
      full_name: "Dev",
    });
    expect(registered.status, await registered.clone().text()).toBe(201);
    const { access_token } = await registered.json<{ access_token: string }>();
    const payload = access_token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/");
    expect(JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "=")))).toMatchObject({
      iss: `http://localhost:${port}`,
    });
  });
});
