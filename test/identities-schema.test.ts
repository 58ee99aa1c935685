import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { userIdentities } from "../src/db/schema";
import { register } from "./helpers";

/**
 * migrations/0012_user_identities.sql (issue #31): an external identity is keyed by (issuer,
 * subject), so one provider account can never be linked to two Gatehouse accounts, whatever the
 * OAUTH_PROVIDERS id it came through; one account may hold several identities.
 */
describe("the user_identities table", () => {
  it("holds one row per (issuer, subject), and several identities per account", async () => {
    const [a, b] = [await register(), await register()];
    const db = createDb(env.DB);
    const issuer = `https://id-${crypto.randomUUID()}.example.com`;
    const row = (userId: string, subject: string, provider = "corp") => ({
      id: crypto.randomUUID(),
      userId,
      provider,
      issuer,
      subject,
      email: null,
      createdAt: new Date(),
    });
    await db.insert(userIdentities).values(row(a.userId, "s-1"));
    await db.insert(userIdentities).values(row(a.userId, "s-2"));
    // The same subject at the same issuer, under another provider id or for another account: refused.
    // drizzle wraps D1's error ("Failed query: …"); the constraint is named in its cause.
    const refused = await db
      .insert(userIdentities)
      .values(row(b.userId, "s-1", "renamed"))
      .then(
        () => undefined,
        (error: Error) => error,
      );
    expect(String((refused?.cause as Error | undefined)?.message)).toMatch(
      /UNIQUE constraint failed: user_identities\.issuer, user_identities\.subject/,
    );
    const rows = await db.select().from(userIdentities).where(eq(userIdentities.issuer, issuer));
    expect(rows.map((r) => [r.userId, r.subject, r.emailVerified])).toEqual([
      [a.userId, "s-1", false],
      [a.userId, "s-2", false],
    ]);
  });
});
