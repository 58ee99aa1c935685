import { describe, expect, it } from "vitest";
import { planSeed, UsageError } from "../../scripts/seed-args.mjs";
import { localFetch } from "../../scripts/local-fetch.mjs";
import { runNodeScript } from "./admin-run.mjs";
import { startEchoServer } from "./echo-server.mjs";
import { freePort } from "./dev-server.mjs";

/** `npm run seed`'s arguments (its run against a real dev server is in readme-session.test.ts). */
describe("planSeed", () => {
  it("targets the default dev server, or the one --port or --url names", () => {
    expect(planSeed([])).toEqual({ base: "http://localhost:8787", adminFlags: [] });
    expect(planSeed(["--port", "8788"]).base).toBe("http://localhost:8788");
    expect(planSeed(["--port=8788"]).base).toBe("http://localhost:8788");
    expect(planSeed(["--url", "http://auth.example.localhost:8787/"]).base).toBe("http://auth.example.localhost:8787");
    expect(planSeed(["--url", "http://127.0.0.1:9000"]).base).toBe("http://127.0.0.1:9000");
  });

  it("passes the local-database flags on to npm run admin", () => {
    expect(planSeed(["--persist-to", "/tmp/s", "-c", "w.toml", "--env=staging", "--port", "1"]).adminFlags).toEqual([
      "--persist-to",
      "/tmp/s",
      "--config",
      "w.toml",
      "--env",
      "staging",
    ]);
  });

  it.each([
    [["--url", "https://auth.example.com"], /not this machine/],
    [["--url", "ftp://localhost"], /http\(s\) URL/],
    [["--port", "80a"], /must be a number/],
    [["--port", "1", "--url", "http://localhost"], /not both/],
    [["--remote"], /Unknown option --remote/],
    [["grant"], /Unexpected argument grant/],
  ])("refuses %j", (argv, message) => {
    expect(() => planSeed(argv)).toThrow(UsageError);
    expect(() => planSeed(argv)).toThrow(message);
  });

  it("as a script: prints the usage on a bad argument, and says to start the dev server when none answers", async () => {
    const bad = runNodeScript("scripts/seed.mjs", ["--remote"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Unknown option --remote[\s\S]*Usage: npm run seed/);
    const none = runNodeScript("scripts/seed.mjs", ["--port", String(await freePort())]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/No dev server at http:\/\/localhost:\d+\. Start it with `npm run dev`/);
  });
});

describe("localFetch: scripts reach a dev server by its *.localhost name", () => {
  it("connects to loopback and keeps the name in the Host header", async () => {
    const server = await startEchoServer();
    const { port } = server;
    try {
      const res = await localFetch(`http://auth.example.localhost:${port}/health?x=1`, { method: "POST", body: "{}" });
      expect(res).toEqual({ status: 200, text: `POST auth.example.localhost:${port} /health?x=1` });
    } finally {
      await server.close();
    }
  });
});
