import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ConfigError, PBKDF2_MAX_ITERATIONS, readConfig } from "../src/config";
import { passwordWeakness } from "../src/accounts/password-policy";
import { hashPassword, verifyPassword } from "../src/accounts/passwords";
import { call, freshIp, register, STRONG_PASSWORD, uniqueEmail, userRow } from "./helpers";

/** Unit tests of the password hashing and policy modules, plus the stored format through HTTP. */

const PARAMS = { iterations: 100_000, pepper: undefined };
const FORMAT = /^\$pbkdf2-sha256\$v=1\$i=100000,p=([01])\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

function saltBytes(hash: string): number {
  const salt = FORMAT.exec(hash)?.[2] ?? "";
  return Math.floor((salt.length * 3) / 4);
}

describe("password hashes", () => {
  it("registration stores PBKDF2-SHA256 at 100k iterations (the production default) with a 16+ byte salt", async () => {
    // The suite runs with PBKDF2_ITERATIONS=10000 (vitest.config.ts); unset, the production default applies.
    const email = uniqueEmail("default-cost");
    const production = { PBKDF2_ITERATIONS: undefined };
    const res = await call("/api/v1/auth/register", {
      env: production,
      body: { email, password: STRONG_PASSWORD, full_name: "Default Cost" },
      ip: freshIp(),
    });
    expect(res.status).toBe(201);
    const stored = (await userRow(email))?.password_hash as string;
    expect(stored).toMatch(FORMAT);
    expect(stored).not.toContain(STRONG_PASSWORD);
    expect(saltBytes(stored)).toBeGreaterThanOrEqual(16);
    const login = await call("/api/v1/auth/login", { env: production, body: { email, password: STRONG_PASSWORD }, ip: freshIp() });
    expect(login.status).toBe(200);
    expect((await userRow(email))?.password_hash).toBe(stored);
  });

  it("the test suite hashes at the configured 10,000 iterations", async () => {
    expect(readConfig(env).pbkdf2Iterations).toBe(10_000);
    const user = await register();
    expect((await userRow(user.email))?.password_hash).toMatch(/^\$pbkdf2-sha256\$v=1\$i=10000,p=0\$/);
  });

  it("salts every hash: the same password hashes differently and both verify", async () => {
    const a = await hashPassword("same password here", PARAMS);
    const b = await hashPassword("same password here", PARAMS);
    expect(a).not.toBe(b);
    expect(await verifyPassword("same password here", a, PARAMS)).toEqual({ valid: true, needsRehash: false });
    expect((await verifyPassword("same password herE", a, PARAMS)).valid).toBe(false);
  });

  it("mixes in the pepper: a peppered hash verifies only with the pepper", async () => {
    const peppered = { iterations: 100_000, pepper: "server-side-pepper-secret" };
    const hash = await hashPassword("peppered password 1", peppered);
    expect(hash).toMatch(/^\$pbkdf2-sha256\$v=1\$i=100000,p=1\$/);
    expect(await verifyPassword("peppered password 1", hash, peppered)).toEqual({ valid: true, needsRehash: false });
    // Without the pepper (secret removed) or with another pepper nothing verifies.
    expect((await verifyPassword("peppered password 1", hash, PARAMS)).valid).toBe(false);
    expect((await verifyPassword("peppered password 1", hash, { iterations: 100_000, pepper: "other" })).valid).toBe(false);
    // The pepper changes the derived hash itself: same salt, different output.
    const [, , , , salt, plainHash] = (await hashPassword("peppered password 1", PARAMS)).split("$");
    const rebuilt = `$pbkdf2-sha256$v=1$i=100000,p=1$${salt}$${plainHash}`;
    expect((await verifyPassword("peppered password 1", rebuilt, peppered)).valid).toBe(false);
  });

  it("asks for a rehash when the pepper is introduced or the iterations changed", async () => {
    const plain = await hashPassword("needs upgrade 77", { iterations: 50_000, pepper: undefined });
    expect(await verifyPassword("needs upgrade 77", plain, PARAMS)).toEqual({ valid: true, needsRehash: true });
    const unpeppered = await hashPassword("needs upgrade 77", PARAMS);
    expect(await verifyPassword("needs upgrade 77", unpeppered, { iterations: 100_000, pepper: "new" })).toEqual({
      valid: true,
      needsRehash: true,
    });
  });

  it("refuses to run PBKDF2 above the 100k cap", async () => {
    const low = await hashPassword("capped password 5", { iterations: 50_000, pepper: undefined });
    const tooHigh = low.replace("i=50000", "i=200000");
    await expect(verifyPassword("capped password 5", tooHigh, PARAMS)).rejects.toThrow(/100000/);
    await expect(hashPassword("capped password 5", { iterations: 200_000, pepper: undefined })).rejects.toThrow();
  });

  it("does not verify unknown formats", async () => {
    for (const stored of ["", "plaintext", "$argon2id$v=19$m=65536,t=3,p=4$abc$def", "$pbkdf2-sha256$v=2$i=100000,p=0$AAAA$BBBB"]) {
      expect(await verifyPassword("anything at all", stored, PARAMS)).toEqual({ valid: false, needsRehash: false });
    }
  });
});

describe("configuration cap", () => {
  it("readConfig refuses PBKDF2_ITERATIONS above 100000 and defaults to the cap", () => {
    expect(PBKDF2_MAX_ITERATIONS).toBe(100_000);
    expect(() => readConfig({ ...env, PBKDF2_ITERATIONS: "100001" })).toThrow(ConfigError);
    expect(() => readConfig({ ...env, PBKDF2_ITERATIONS: "600000" })).toThrow(/PBKDF2_ITERATIONS/);
    expect(readConfig({ ...env, PBKDF2_ITERATIONS: "100000" }).pbkdf2Iterations).toBe(100_000);
    expect(readConfig({ ...env, PBKDF2_ITERATIONS: undefined }).pbkdf2Iterations).toBe(100_000);
  });
});

describe("passwordWeakness", () => {
  const none = { requireCharacterClasses: false };
  const classes = { requireCharacterClasses: true };

  it("accepts a long passphrase without composition rules by default", () => {
    expect(passwordWeakness("correct horse battery staple", {}, none)).toBeNull();
    expect(passwordWeakness("correct horse battery staple", {}, classes)).not.toBeNull();
  });

  it("requires three character classes only when switched on", () => {
    expect(passwordWeakness("Tr0ubador-horse", {}, classes)).toBeNull();
    expect(passwordWeakness("Troubadorhorse7", {}, classes)).toBeNull();
    expect(passwordWeakness("troubadorhorse7", {}, classes)?.message).toMatch(/three/);
    expect(passwordWeakness("troubadorhorse7", {}, none)).toBeNull();
  });

  it("counts code points and compares exactly as sent", () => {
    expect(passwordWeakness("🦊🐙🌵🚲🎻🧭🪁🫖", {}, none)).toBeNull();
    expect(passwordWeakness("🦊🐙🌵🚲🎻🧭🪁", {}, none)?.message).toMatch(/at least 8/);
    expect(passwordWeakness("x".repeat(4) + "yz9!".repeat(31), {}, none)).toBeNull(); // 128
    expect(passwordWeakness("x".repeat(5) + "yz9!".repeat(31), {}, none)?.message).toMatch(/at most 128/);
  });

  it("refuses common, personal and patterned passwords", () => {
    for (const p of ["password123", "Password123!", "iloveyou2", "Sunshine1"])
      expect(passwordWeakness(p, {}, none)?.message, p).toMatch(/common/);
    for (const p of ["aaaaaaaa", "abcdefgh", "12345678", "abcabcabc", "zyxwvuts", "asdfghjkl", "qwertyuiop", "PoiuYtrewq"])
      expect(passwordWeakness(p, {}, none), p).not.toBeNull();
    expect(passwordWeakness("i am jane.doe really", { email: "jane.doe@example.com" }, none)?.message).toMatch(/email/);
    expect(passwordWeakness("Stardust_Pilot 9", { username: "stardust_pilot" }, none)?.message).toMatch(/username/);
    expect(passwordWeakness("hello Lovelace 1815", { fullName: "Ada Lovelace" }, none)?.message).toMatch(/name/);
  });
});
