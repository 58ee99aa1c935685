import { describe, expect, inject, it } from "vitest";
import { runNodeScript } from "../node/admin-run.mjs";
import { writeTempFile } from "../node/dev-server.mjs";
import { uniqueDevIp } from "./shared-server";

/**
 * `npm run i18n -- override` against the shared `npm run dev`'s local KV: a valid file goes in and
 * the pages show it; an invalid one is refused with each reason and nothing is written. Dutch and
 * Polish, which no other dev test opens: the server has cached neither catalogue yet.
 */

describe("npm run i18n -- override, against a running npm run dev", () => {
  const { base, persistDir } = inject("devServer");
  const override = (locale: string, file: string) =>
    runNodeScript("scripts/i18n.mjs", ["override", locale, file, "--persist-to", persistDir]);
  const loginPage = async (locale: string) =>
    (await fetch(`${base}/login?lang=${locale}`, { headers: { "CF-Connecting-IP": uniqueDevIp(), "Sec-Fetch-Site": "none" } })).text();

  it("refuses an invalid file, naming each problem", async () => {
    const refused = override(
      "pl",
      writeTempFile("bad.json", JSON.stringify({ "login.title": "<em>Hoi</em>", signedInAs: "Hallo", nope: "x" })),
    );
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("login.title: slots em are not the source's");
    expect(refused.stderr).toContain("signedInAs: placeholders differ from the source's");
    expect(refused.stderr).toContain("nope: no such message");
    expect(await loginPage("pl")).not.toContain("Hoi");
  });

  it("puts a valid file into AUTH_KV, and the page in that language shows it", async () => {
    const put = override("nl", writeTempFile("nl.json", JSON.stringify({ "login.title": "Welkom terug bij de proef" })));
    expect(put.status, put.stderr).toBe(0);
    expect(put.stdout).toContain("1 override(s) for nl");
    expect(await loginPage("nl")).toContain("<h1>Welkom terug bij de proef</h1>");
  });
});
