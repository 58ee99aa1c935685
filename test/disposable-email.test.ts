import { beforeAll, describe, expect, it } from "vitest";
import { call, env, freshIp, problem, register, STRONG_PASSWORD, uniqueEmail } from "./helpers";

/** BLOCK_DISPOSABLE_EMAIL: registration and email change refuse throwaway mailboxes. */

const ON = { BLOCK_DISPOSABLE_EMAIL: "true" };
// A domain only the KV list names (loaded as `npm run disposable -- load` would).
const KV_DOMAIN = "throwaway-kv-test.example";

beforeAll(async () => {
  await env.AUTH_KV.put("disposable-domains", `# test list\n${KV_DOMAIN}\n\nAnother.Example\n`);
});

function registerAs(email: string, vars: Record<string, string> = ON) {
  return call("/api/v1/auth/register", { body: { email, password: STRONG_PASSWORD, full_name: "Someone" }, ip: freshIp(), env: vars });
}

async function expectRefused(res: Response, field: string): Promise<void> {
  const body = await problem(res, 422, "validation_failed");
  const errors = body.errors as { field: string; message: string }[];
  expect(errors).toHaveLength(1);
  expect(errors[0]?.field).toBe(field);
  expect(errors[0]?.message).toMatch(/disposable/i);
}

describe("BLOCK_DISPOSABLE_EMAIL", () => {
  it("refuses registration at a built-in domain and its subdomains, and at a KV-loaded one", async () => {
    await expectRefused(await registerAs(`a${crypto.randomUUID().slice(0, 8)}@mailinator.com`), "email");
    await expectRefused(await registerAs(`b${crypto.randomUUID().slice(0, 8)}@Inbox.YopMail.com`), "email");
    await expectRefused(await registerAs(`c${crypto.randomUUID().slice(0, 8)}@${KV_DOMAIN}`), "email");
    await expectRefused(await registerAs(`d${crypto.randomUUID().slice(0, 8)}@mx.another.example`), "email");
    expect((await registerAs(uniqueEmail("permanent"))).status).toBe(201);
  });

  it("is off by default", async () => {
    expect((await registerAs(`e${crypto.randomUUID().slice(0, 8)}@mailinator.com`, {})).status).toBe(201);
  });

  it("refuses an email change to a disposable domain", async () => {
    const user = await register();
    const change = (newEmail: string) =>
      call("/api/v1/users/me/email", {
        body: { new_email: newEmail, password: user.password },
        token: user.accessToken,
        ip: freshIp(),
        env: ON,
      });
    await expectRefused(await change(`f${crypto.randomUUID().slice(0, 8)}@guerrillamail.com`), "new_email");
    await expectRefused(await change(`g${crypto.randomUUID().slice(0, 8)}@${KV_DOMAIN}`), "new_email");
    expect((await change(uniqueEmail("moved"))).status).toBe(202);
  });
});
