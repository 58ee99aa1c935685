import { hashSync } from "bcryptjs";
import { describe, expect, it } from "vitest";
import { hashPassword } from "../src/accounts/passwords";
import { call, env, freshIp, login, problem, register, superuser, uniqueEmail, userRow, type Registered } from "./helpers";

/** `POST /api/v1/admin/users/import`: NDJSON users with their hashes, streamed in, reported per line. */

const PATH = "/api/v1/admin/users/import";
const NDJSON = { "Content-Type": "application/x-ndjson" };
const PASSWORD = "imported passwords stay 42";
/** bcrypt at its lowest cost keeps the suite fast; production exports are usually cost 10–12. */
const BCRYPT = hashSync(PASSWORD, 4);

interface Report {
  imported: number;
  skipped: number;
  errors: { line: number; message: string }[];
}

const ndjson = (lines: unknown[]) => lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n") + "\n";

async function importUsers(admin: Registered, body: string | ReadableStream<Uint8Array>): Promise<Report> {
  const res = await call(PATH, { body, headers: NDJSON, token: admin.accessToken, ip: freshIp() });
  const report = await res.json<Report>();
  expect(res.status, JSON.stringify(report)).toBe(200);
  return report;
}

/** A stream delivering `bytes` in pieces of `size` bytes: lines (and characters) split across chunks. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

async function auditRow(actorId: string) {
  const row = await env.DB.prepare(
    "SELECT user_id, metadata FROM audit_logs WHERE actor_user_id = ? AND action = 'admin.users_imported' ORDER BY created_at DESC",
  )
    .bind(actorId)
    .first<{ user_id: string | null; metadata: string }>();
  return { userId: row?.user_id, metadata: JSON.parse(row?.metadata ?? "null") as Record<string, unknown> };
}

describe("POST /api/v1/admin/users/import", () => {
  it("imports bcrypt and PBKDF2 users who then log in, upgrading bcrypt at the first login, and audits it", async () => {
    const admin = await superuser();
    const [a, b] = [uniqueEmail("bcrypt"), uniqueEmail("pbkdf2")];
    const pbkdf2 = await hashPassword(PASSWORD, { iterations: 10_000, pepper: undefined });
    const username = `imp_${Date.now().toString(36)}`;
    const report = await importUsers(
      admin,
      ndjson([
        { email: `  ${a.toUpperCase()} `, full_name: " Ada Imported ", username, password_hash: BCRYPT, email_verified: true },
        { email: b, full_name: "Bob Imported", password_hash: pbkdf2 },
      ]),
    );
    expect(report).toEqual({ imported: 2, skipped: 0, errors: [] });

    const rowA = await userRow(a);
    expect(rowA).toMatchObject({
      email: a,
      full_name: "Ada Imported",
      username,
      email_verified: 1,
      password_hash: BCRYPT,
      is_superuser: 0,
    });
    expect(await userRow(b)).toMatchObject({ email_verified: 0, username: null, password_hash: pbkdf2 });

    expect((await login({ email: a, password: PASSWORD })).status).toBe(200);
    expect((await login({ username, password: PASSWORD })).status).toBe(200);
    expect(String((await userRow(a))?.password_hash)).toMatch(/^\$pbkdf2-sha256\$v=1\$i=10000,p=0\$/);
    expect((await login({ email: b, password: PASSWORD })).status).toBe(200);
    expect((await login({ email: a, password: "not the password 42" })).status).toBe(401);

    expect(await auditRow(admin.userId)).toEqual({ userId: null, metadata: { imported: 2, skipped: 0, errors: 0, lines: 2 } });
  });

  it("skips a taken email (any case) or username, and a repeat within the file; a re-sent file skips everything", async () => {
    const admin = await superuser();
    const existing = await register({ username: `taken_${Date.now().toString(36)}` });
    const fresh = uniqueEmail("fresh");
    const body = ndjson([
      { email: existing.email.toUpperCase(), full_name: "Dup Email", password_hash: BCRYPT },
      {
        email: uniqueEmail("dupname"),
        full_name: "Dup Name",
        username: (existing.body.user as { username: string }).username.toUpperCase(),
        password_hash: BCRYPT,
      },
      { email: fresh, full_name: "Fresh", password_hash: BCRYPT },
      { email: fresh, full_name: "Fresh Again", password_hash: BCRYPT },
    ]);
    expect(await importUsers(admin, body)).toEqual({ imported: 1, skipped: 3, errors: [] });
    expect((await userRow(fresh))?.full_name).toBe("Fresh");
    expect((await userRow(existing.email))?.full_name).toBe("Test User");
    expect(await importUsers(admin, body)).toEqual({ imported: 0, skipped: 4, errors: [] });
  });

  it("sends user.created for each imported user (marked imported), none for the skipped", async () => {
    const admin = await superuser();
    const taken = await register();
    const fresh = uniqueEmail("evented");
    const hash = hashSync(PASSWORD, 4);
    const sent: string[] = [];
    const queue = {
      send: () => Promise.resolve(),
      sendBatch: (messages: Iterable<{ body: { id: string } }>) => Promise.resolve(void sent.push(...[...messages].map((m) => m.body.id))),
    } as unknown as Queue;
    const res = await call(PATH, {
      body: ndjson([
        { email: fresh, full_name: "Evented", password_hash: hash, email_verified: true },
        { email: taken.email, full_name: "Taken", password_hash: hash },
      ]),
      headers: NDJSON,
      token: admin.accessToken,
      ip: freshIp(),
      env: {
        WEBHOOK_URL: "https://hooks.example.com/in",
        WEBHOOK_SECRET: `whsec_${btoa("0123456789abcdef0123456789abcdef")}`,
        WEBHOOKS: queue,
      },
    });
    expect(await res.json()).toMatchObject({ imported: 1, skipped: 1 });
    const { results } = await env.DB.prepare(
      "SELECT id, payload FROM webhook_events WHERE type = 'user.created' AND json_extract(payload, '$.data.email') IN (?, ?)",
    )
      .bind(fresh, taken.email)
      .all<{ id: string; payload: string }>();
    expect(results).toHaveLength(1);
    const user = await userRow(fresh);
    expect(JSON.parse(results[0]!.payload)).toMatchObject({
      type: "user.created",
      data: { user_id: user!.id, email: fresh, username: null, email_verified: true, imported: true },
    });
    expect(sent).toContain(results[0]!.id);
  });

  it("reports each bad line by number with the rule it broke, never its content, and imports the rest", async () => {
    const admin = await superuser();
    const good = uniqueEmail("good");
    const secretHash = "$2b$10$thisIsASecretLookingHashThatMustNotBeEchoedBackXXXXXXXXX";
    const salt = "c2FsdHNhbHRzYWx0c2FsdA";
    const hash32 = "A".repeat(43);
    const lines = [
      { email: good, full_name: "Good", password_hash: BCRYPT },
      "",
      `{"email": "broken", "password_hash": "${secretHash}"`,
      `["not", "an", "object"]`,
      { email: "not an email", full_name: "X", password_hash: BCRYPT },
      { email: uniqueEmail(), full_name: "<script>", username: "admin", password_hash: BCRYPT },
      { email: uniqueEmail(), full_name: "X", password_hash: "plaintext-password" },
      { email: uniqueEmail(), full_name: "X", password_hash: `$pbkdf2-sha256$v=1$i=100001,p=0$${salt}$${hash32}` },
      { email: uniqueEmail(), full_name: "X", password_hash: `$pbkdf2-sha256$v=1$i=10000,p=1$${salt}$${hash32}` },
      { email: uniqueEmail(), full_name: "X", password_hash: `$pbkdf2-sha256$v=1$i=10000,p=0$${salt}$AAAA` },
      { email: uniqueEmail(), full_name: "X", password_hash: BCRYPT.replace(/^\$2b\$04/, "$2b$99") },
      { email: uniqueEmail(), full_name: "X", password_hash: BCRYPT, email_verified: "yes" },
      { email: uniqueEmail(), full_name: "X" },
      `{"email": "${uniqueEmail()}", "full_name": "${"x".repeat(17_000)}", "password_hash": "${secretHash}"}`,
    ];
    const report = await importUsers(admin, ndjson(lines));
    expect(report.imported).toBe(1);
    expect(report.skipped).toBe(0);
    expect(report.errors).toEqual([
      { line: 3, message: "Not valid JSON." },
      { line: 4, message: "Each line must be one JSON object." },
      { line: 5, message: "email: Enter a valid email address." },
      { line: 6, message: expect.stringMatching(/^full_name: Control characters .*; username: This username is reserved\.$/) as string },
      { line: 7, message: expect.stringMatching(/^password_hash: password_hash must be a bcrypt hash/) as string },
      { line: 8, message: "password_hash: PBKDF2 iterations must be 1 to 100000 (Workers refuse more)." },
      { line: 9, message: "password_hash: The hash is peppered (p=1) but PASSWORD_PEPPER is not set." },
      { line: 10, message: "password_hash: The PBKDF2 hash must be 32 bytes." },
      { line: 11, message: "password_hash: The bcrypt cost must be 4 to 13." },
      { line: 12, message: expect.stringMatching(/^email_verified: /) as string },
      { line: 13, message: expect.stringMatching(/^password_hash: /) as string },
      { line: 14, message: "Longer than 16384 bytes." },
    ]);
    const text = JSON.stringify(report);
    for (const secret of [secretHash, "plaintext-password", BCRYPT, salt]) expect(text).not.toContain(secret);
    expect(await auditRow(admin.userId)).toMatchObject({ metadata: { imported: 1, skipped: 0, errors: 12, lines: 14 } });
  });

  it("refuses bcrypt costs above 13, whose one login would burn seconds to days of CPU, and imports the other lines", async () => {
    const admin = await superuser();
    const withCost = (cost: number) => BCRYPT.replace(/^\$2b\$04/, `$2b$${String(cost).padStart(2, "0")}`);
    const [at13, at14, at31, after] = [uniqueEmail("cost13"), uniqueEmail("cost14"), uniqueEmail("cost31"), uniqueEmail("cost4")];
    const report = await importUsers(
      admin,
      ndjson([
        { email: at13, full_name: "Thirteen", password_hash: withCost(13) },
        { email: at14, full_name: "Fourteen", password_hash: withCost(14) },
        { email: at31, full_name: "Thirty-one", password_hash: withCost(31) },
        { email: after, full_name: "Four", password_hash: BCRYPT },
      ]),
    );
    expect(report).toEqual({
      imported: 2,
      skipped: 0,
      errors: [
        { line: 2, message: "password_hash: The bcrypt cost must be 4 to 13." },
        { line: 3, message: "password_hash: The bcrypt cost must be 4 to 13." },
      ],
    });
    expect(await userRow(at13)).not.toBeNull();
    expect(await userRow(at14)).toBeNull();
    expect(await userRow(at31)).toBeNull();
    // No account holds the costly hash, so a login naming it costs an ordinary check.
    await problem(await login({ email: at31, password: PASSWORD }), 401, "invalid_credentials");
    expect((await login({ email: after, password: PASSWORD })).status).toBe(200);
  });

  it("reads a stream in any chunking: CRLF, a byte-order mark, characters split across chunks, bad UTF-8 as one line's error", async () => {
    const admin = await superuser();
    const emails = Array.from({ length: 250 }, () => uniqueEmail("stream"));
    const text =
      "\ufeff" + emails.map((email) => JSON.stringify({ email, full_name: "Zoë Ünïcødé 😀", password_hash: BCRYPT })).join("\r\n");
    const encoded = new TextEncoder().encode(text);
    const bad = new Uint8Array([
      ...new TextEncoder().encode('\n{"email":"x@example.com","full_name":"'),
      0xff,
      0xfe,
      ...new TextEncoder().encode('"}\n'),
    ]);
    const bytes = new Uint8Array([...encoded, ...bad]);
    const report = await importUsers(admin, chunked(bytes, 7));
    expect(report).toEqual({ imported: 250, skipped: 0, errors: [{ line: 251, message: "Not valid UTF-8." }] });
    expect((await userRow(emails[249]!))?.full_name).toBe("Zoë Ünïcødé 😀");
  });

  it("stops after 10,000 lines with 413, keeping what came before and auditing where it stopped", async () => {
    const admin = await superuser();
    const late = uniqueEmail("late");
    // 10,000 refused lines cost no writes; the 10,001st would be imported.
    const lines = `${"{}\n".repeat(10_000)}${JSON.stringify({ email: late, full_name: "Late", password_hash: BCRYPT })}\n`;
    const res = await call(PATH, { body: lines, headers: NDJSON, token: admin.accessToken });
    const body = await problem(res, 413, "payload_too_large");
    expect(body.detail).toContain("Lines 1 to 10000 were processed");
    expect(await userRow(late)).toBeNull();
    expect(await auditRow(admin.userId)).toMatchObject({ metadata: { imported: 0, errors: 10_000, lines: 10_000, stopped: "line_limit" } });
  });

  it("stops a streamed body at 5 MiB with 413 after importing the lines before it; a declared larger length is refused unread", async () => {
    const admin = await superuser();
    const first = uniqueEmail("first");
    const head = new TextEncoder().encode(`${JSON.stringify({ email: first, full_name: "First", password_hash: BCRYPT })}\n`);
    const filler = new TextEncoder().encode(`${" ".repeat(1023)}\n`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(head);
        else if (sent > 5 * 1024 + 10) controller.close();
        else controller.enqueue(filler);
        sent += 1;
      },
    });
    await problem(await call(PATH, { body: stream, headers: NDJSON, token: admin.accessToken }), 413, "payload_too_large");
    expect(await userRow(first)).not.toBeNull();
    expect(await auditRow(admin.userId)).toMatchObject({ metadata: { imported: 1, stopped: "byte_limit" } });

    const unread = uniqueEmail("unread");
    const declared = await call(PATH, {
      body: `${JSON.stringify({ email: unread, full_name: "X", password_hash: BCRYPT })}\n`,
      headers: { ...NDJSON, "Content-Length": String(5 * 1024 * 1024 + 1) },
      token: admin.accessToken,
    });
    expect((await problem(declared, 413, "payload_too_large")).detail).toContain("nothing was imported");
    expect(await userRow(unread)).toBeNull();
  });

  it("takes only NDJSON, from superusers' access tokens; the JSON body guard still holds everywhere else", async () => {
    const admin = await superuser();
    const user = await register();
    const line = ndjson([{ email: uniqueEmail(), full_name: "X", password_hash: BCRYPT }]);
    await problem(await call(PATH, { body: line, token: admin.accessToken }), 415, "unsupported_media_type");
    await problem(
      await call(PATH, { body: line, headers: { "Content-Type": "text/plain" }, token: admin.accessToken }),
      415,
      "unsupported_media_type",
    );
    await problem(await call(PATH, { body: line, headers: NDJSON, token: user.accessToken }), 403, "forbidden");
    await problem(await call(PATH, { body: line, headers: NDJSON }), 401, "authentication_required");
    await problem(
      await call("/api/v1/admin/unlock", { body: line, headers: NDJSON, token: admin.accessToken }),
      415,
      "unsupported_media_type",
    );
    expect(await importUsers(admin, "")).toEqual({ imported: 0, skipped: 0, errors: [] });
  });
});
