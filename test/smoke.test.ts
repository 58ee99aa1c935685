import { describe, expect, it } from "vitest";
import { call, login, register } from "./helpers";

describe("smoke", () => {
  it("health", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
  it("register and login", async () => {
    const user = await register();
    const res = await login({ email: user.email.toUpperCase(), password: user.password });
    expect(res.status).toBe(200);
    const me = await call("/api/v1/users/me", { token: user.accessToken });
    expect(me.status).toBe(200);
  });
});
