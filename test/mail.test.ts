import { afterEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../src/config";
import type { Locale } from "../src/config/languages";
import { createDeps, type Deps } from "../src/kernel/deps";
import { deliver, sendMail, type MailMessage } from "../src/mail/mail";
import { emailChangeMail, passwordResetMail, verificationMail } from "../src/mail/templates";
import { call, captureLogs, env, freshIp, outbox, register, uniqueEmail } from "./helpers";

/** The mail service: the Resend-compatible HTTP transport against a mocked fetch, and configuration. */

const MAIL_API = "https://mail.example/v1/emails";

/** `null` stands for "MAIL_API_KEY unset" (undefined would pick the default). */
function httpDeps(apiKey: string | null = "re_test_key"): Deps {
  const deps = createDeps(env, { meta: { ip: null, userAgent: null, requestId: "test" }, waitUntil: () => undefined });
  return {
    ...deps,
    config: {
      ...deps.config,
      mail: { transport: "http", from: "Gatehouse <no-reply@auth.example.com>", apiUrl: MAIL_API, apiKey: apiKey ?? undefined },
    },
  };
}

const MESSAGE: MailMessage = {
  to: "someone@example.com",
  kind: "password_reset",
  locale: "en",
  subject: "Reset your password",
  text: "Text body",
  html: "<p>Text body</p>",
  token: "secret-token-never-sent-as-a-field",
};

/** Mail about the account's own events: the class every transport test sends as. */
const NOTICE = { class: "account" } as const;

const ok = () => new Response('{"id":"1"}', { status: 200 });
const status = (code: number) => new Response("{}", { status: code });

function mockFetch(...answers: (Response | Error)[]) {
  const spy = vi.spyOn(globalThis, "fetch");
  for (const answer of answers) {
    if (answer instanceof Error) spy.mockRejectedValueOnce(answer);
    else spy.mockResolvedValueOnce(answer);
  }
  return spy;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("HTTP transport", () => {
  it("posts the Resend JSON shape to MAIL_API_URL with the key as a bearer token", async () => {
    const fetchSpy = mockFetch(ok());
    await deliver(httpDeps(), MESSAGE, NOTICE);
    expect(fetchSpy).toHaveBeenCalledTimes(1);
    const [url, init] = fetchSpy.mock.calls[0]!;
    expect(url).toBe(MAIL_API);
    expect(init?.method).toBe("POST");
    const headers = new Headers(init?.headers);
    expect(headers.get("authorization")).toBe("Bearer re_test_key");
    expect(headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(init?.body as string)).toEqual({
      from: "Gatehouse <no-reply@auth.example.com>",
      to: ["someone@example.com"],
      subject: "Reset your password",
      text: "Text body",
      html: "<p>Text body</p>",
    });
  });

  it("retries once after a server error or a network failure", async () => {
    const afterServerError = mockFetch(status(500), ok());
    await deliver(httpDeps(), MESSAGE, NOTICE);
    expect(afterServerError).toHaveBeenCalledTimes(2);
    vi.restoreAllMocks();

    const afterNetworkError = mockFetch(new TypeError("network down"), ok());
    await deliver(httpDeps(), MESSAGE, NOTICE);
    expect(afterNetworkError).toHaveBeenCalledTimes(2);
  });

  it("gives up after the second failure and logs it without throwing", async () => {
    const fetchSpy = mockFetch(status(503), status(502));
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await expect(deliver(httpDeps(), MESSAGE, NOTICE)).resolves.toBeUndefined();
    expect(fetchSpy).toHaveBeenCalledTimes(2);
    const logged = errors.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
    expect(logged).toContainEqual(expect.objectContaining({ event: "mail.failed", kind: "password_reset", transport: "http" }));
    expect(JSON.stringify(logged)).not.toContain(MESSAGE.token);
  });

  it("does not retry a client error (bad address or key), but does retry 429", async () => {
    const rejected = mockFetch(status(400));
    const logs = captureLogs();
    await deliver(httpDeps(), MESSAGE, NOTICE);
    expect(rejected).toHaveBeenCalledTimes(1);
    expect(logs.problems()).toEqual([
      expect.objectContaining({ level: "error", event: "mail.failed", reason: expect.stringContaining("400") as unknown }),
    ]);
    vi.restoreAllMocks();

    const throttled = mockFetch(status(429), ok());
    await deliver(httpDeps(), MESSAGE, NOTICE);
    expect(throttled).toHaveBeenCalledTimes(2);
  });

  it("sends nothing without MAIL_API_KEY and never throws", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch").mockResolvedValue(ok());
    const logs = captureLogs();
    await expect(deliver(httpDeps(null), MESSAGE, NOTICE)).resolves.toBeUndefined();
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(logs.problems()).toEqual([
      expect.objectContaining({ level: "error", event: "mail.failed", reason: expect.stringContaining("MAIL_API_KEY") as unknown }),
    ]);
  });

  it("sendMail hands delivery to waitUntil and never throws to the caller", async () => {
    mockFetch(status(500), status(500));
    const logs = captureLogs();
    const pending: Promise<unknown>[] = [];
    const deps = { ...httpDeps(), waitUntil: (p: Promise<unknown>) => void pending.push(p) };
    expect(() => sendMail(deps, MESSAGE, NOTICE)).not.toThrow();
    expect(pending).toHaveLength(1);
    await expect(pending[0]).resolves.toBeUndefined();
    expect(logs.problems()).toEqual([expect.objectContaining({ level: "error", event: "mail.failed", kind: "password_reset" })]);
  });
});

/** Calls the app with a variant of the test configuration (and waits for its mail). */
function callWith(vars: Partial<Bindings>, path: string, body?: unknown): Promise<Response> {
  return call(path, { env: vars, body, ip: freshIp() });
}

const HTTP_MAIL: Partial<Bindings> = { DEV_OUTBOX: "false", MAIL_TRANSPORT: "http", MAIL_API_URL: MAIL_API, MAIL_API_KEY: "re_test_key" };

describe("mail configuration", () => {
  it("a failing mail API does not change forgot-password's answer", async () => {
    const user = await register();
    const fetchSpy = mockFetch(status(500), status(500));
    const logs = captureLogs();
    const known = await callWith(HTTP_MAIL, "/api/v1/auth/forgot-password", { email: user.email });
    expect(fetchSpy).toHaveBeenCalledTimes(2);
    expect(logs.problems()).toEqual([
      expect.objectContaining({ level: "error", event: "mail.failed", kind: "password_reset", transport: "http" }),
    ]);
    expect(fetchSpy.mock.calls.every(([url]) => url === MAIL_API)).toBe(true);
    const unknown = await callWith(HTTP_MAIL, "/api/v1/auth/forgot-password", { email: uniqueEmail("absent") });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(await known.text()).toBe(await unknown.text());
  });

  it("the dev outbox endpoint does not exist unless DEV_OUTBOX is on", async () => {
    const res = await callWith({ DEV_OUTBOX: "false" }, "/api/v1/dev/outbox?to=someone%40example.com");
    expect(res.status).toBe(404);
  });

  it("reset links point at APP_URL when it is set", async () => {
    const user = await register();
    const res = await callWith({ APP_URL: "https://app.example.com/" }, "/api/v1/auth/forgot-password", { email: user.email });
    expect(res.status).toBe(202);
    const [mail] = await outbox(user.email, "password_reset");
    expect(mail!.text).toContain(`https://app.example.com/reset-password?token=${mail!.token}`);
  });
});

describe("templates", () => {
  /** Deps whose site is `appUrl` and `productName`, for a request that asked for `locale`. */
  function siteDeps(appUrl: string, productName = "Gatehouse", locale?: Locale): Deps {
    const deps = createDeps(env, { meta: { ip: null, userAgent: null, requestId: "test", locale }, waitUntil: () => undefined });
    return { ...deps, config: { ...deps.config, appUrl, branding: { ...deps.config.branding, productName } } };
  }
  const to = (email: string, locale: string | null = null) => ({ email, locale });

  it("carry the link in text and HTML, escaped, built from the given base URL, in the mail's language", async () => {
    const reset = await passwordResetMail(siteDeps("https://app.example.com"), to("a@example.com"), "tok/en+=");
    expect(reset.text).toContain("https://app.example.com/reset-password?token=tok%2Fen%2B%3D&lang=en");
    expect(reset.html).toContain('<a href="https://app.example.com/reset-password?token=tok%2Fen%2B%3D&amp;lang=en" style="');
    const change = await emailChangeMail(siteDeps("https://auth.example.com"), to("b@example.com"), "abc");
    expect(change).toMatchObject({ to: "b@example.com", kind: "email_change", token: "abc", locale: "en" });
    expect(change.text).toContain("https://auth.example.com/verify-email?token=abc&lang=en");
    const unsafe = await passwordResetMail(siteDeps('https://x.example/"><script>'), to("a@example.com"), "t");
    expect(unsafe.html).not.toContain("<script>");
  });

  it("speak of the product by BRAND_NAME, escaped in HTML and isolated for bidi", async () => {
    const mail = await verificationMail(siteDeps("https://app.example.com", "Acme <Cloud>"), to("a@example.com"), "t");
    expect(mail.text).toContain("your \u2068Acme <Cloud>\u2069 account");
    expect(mail.html).toContain("your <bdi>Acme &lt;Cloud&gt;</bdi> account");
    expect(mail.text).not.toContain("Gatehouse");
  });

  it("speak the account's language, else the request's, else DEFAULT_LOCALE", async () => {
    const german = await passwordResetMail(siteDeps("https://app.example.com", "Gatehouse", "fr"), to("a@example.com", "de"), "t");
    expect(german).toMatchObject({ locale: "de", subject: "Setzen Sie Ihr Passwort zurück" });
    expect(german.html).toContain('<html lang="de" dir="ltr">');
    expect(german.text).toContain("lang=de");
    const asked = await passwordResetMail(siteDeps("https://app.example.com", "Gatehouse", "ar"), to("a@example.com"), "t");
    expect(asked.locale).toBe("ar");
    expect(asked.html).toContain('<html lang="ar" dir="rtl">');
    const fallback = await passwordResetMail(siteDeps("https://app.example.com"), to("a@example.com", "xx"), "t");
    expect(fallback.locale).toBe("en");
  });
});
