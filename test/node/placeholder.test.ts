import { expect, it } from "vitest";
it("runs on the host", () => expect(typeof process.version).toBe("string"));
