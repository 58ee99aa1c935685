// Global setup of `npm run test:dev` (vitest.dev.config.ts): one real `npm run dev` for the test
// files that need nothing but a dev server, started once instead of once per file (each start costs
// wrangler's build and workerd's start-up, 10-20 s on two cores), and the loopback webhook receiver
// its WEBHOOK_URL points at. The tests keep out of each other's way with fresh accounts and client
// IPs (CF-Connecting-IP reaches the worker in dev), so sharing the server shares no test data.
// What they need arrives through `inject()` (declared in shared-server.ts).
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, makeTempDir, removeDir, startDev, waitUntilHealthy } from "../node/dev-server.mjs";
import { startReceiver } from "./webhook-receiver.mjs";
import { fakeProviderVars, startFakeServices } from "../../scripts/fake-services.mjs";

const WEBHOOK_SECRET = `whsec_${btoa("0123456789abcdef0123456789abcdef")}`;

/** @param {{ provide: (key: string, value: unknown) => void }} project */
export default async function setup(project) {
  const receiver = await startReceiver();
  // The loopback sign-in providers of `npm run fakes`, named by OAUTH_PROVIDERS (dev mode allows their endpoints).
  const fakes = await startFakeServices();
  const providers = fakeProviderVars(fakes);
  const persistDir = makeTempDir("gatehouse-dev-tests-");
  const logDir = makeTempDir("gatehouse-dev-tests-log-");
  // The server's output, for the tests' failure messages (they run in other processes).
  const logFile = join(logDir, "npm-run-dev.log");
  appendFileSync(logFile, "");
  const port = await freePort();
  const server = startDev(
    [
      "--port",
      String(port),
      "--persist-to",
      persistDir,
      "--var",
      `WEBHOOK_URL:${receiver.url}`,
      "--var",
      `WEBHOOK_SECRET:${WEBHOOK_SECRET}`,
      "--var",
      `OAUTH_PROVIDERS:${providers.OAUTH_PROVIDERS}`,
      "--var",
      `OAUTH_CLIENT_SECRETS:${providers.OAUTH_CLIENT_SECRETS}`,
      // MCP clients register themselves (test/dev/mcp.test.ts).
      "--var",
      "OAUTH_DYNAMIC_CLIENT_REGISTRATION:true",
    ],
    { onOutput: (text) => appendFileSync(logFile, text) },
  );
  const stop = async () => {
    await server.stop();
    await receiver.close();
    await fakes.close();
    removeDir(persistDir);
    removeDir(logDir);
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilHealthy(base, server, 120_000);
  } catch (error) {
    await stop();
    throw error;
  }
  project.provide("devServer", { base, port, persistDir, logFile });
  project.provide("webhooks", { url: receiver.url, waitUrl: receiver.waitUrl, secret: WEBHOOK_SECRET });
  return stop;
}
