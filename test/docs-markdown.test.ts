import { jsx } from "hono/jsx";
import { describe, expect, it } from "vitest";
import { DOCS_STYLE } from "../src/http/docs-page";
import { Markdown, safeHref } from "../src/http/docs-markdown";
import { call } from "./helpers";

/** `/docs`: the descriptions' Markdown rendered safely, and a page that follows dark mode and fits a phone. */

async function html(text: string, tight = false): Promise<string> {
  return (await jsx("div", {}, jsx(Markdown, { text, tight })).toString()).toString();
}

describe("the descriptions' Markdown", () => {
  it("renders code, bold, emphasis and links inline", async () => {
    expect(await html("Send `device_token` with **every** login, *once*.", true)).toBe(
      "<div>Send <code>device_token</code> with <strong>every</strong> login, <em>once</em>.</div>",
    );
    expect(await html("See [the API guide](/docs#Auth) or [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414).", true)).toBe(
      '<div>See <a href="/docs#Auth">the API guide</a> or <a href="https://www.rfc-editor.org/rfc/rfc8414">RFC 8414</a>.</div>',
    );
    // Inside a code span everything is literal, Markdown and markup alike; longer fences hold backticks.
    expect(await html("`**not bold** <b>`", true)).toBe("<div><code>**not bold** &lt;b&gt;</code></div>");
    expect(await html("``a ` b``", true)).toBe("<div><code>a ` b</code></div>");
    expect(await html("**bold with `code` inside**", true)).toBe("<div><strong>bold with <code>code</code> inside</strong></div>");
  });

  it("makes paragraphs and bullet lists; a single line break is a space", async () => {
    expect(await html("First line\nsame paragraph.\n\nSecond.\n\n- one\n- `two`\n  continued\n* three")).toBe(
      "<div><p>First line same paragraph.</p><p>Second.</p><ul><li>one</li><li><code>two</code> continued</li><li>three</li></ul></div>",
    );
    expect(await html("Intro:\n- a\n- b")).toBe("<div><p>Intro:</p><ul><li>a</li><li>b</li></ul></div>");
    expect(await html("", true)).toBe("<div></div>");
  });

  it("passes no markup through and links only to http(s) or this worker's paths", async () => {
    const hostile = [
      '<script>alert(1)</script> <img src=x onerror="alert(1)">',
      "[click](javascript:alert(1))",
      "[data](data:text/html;base64,PHNjcmlwdD4=)",
      "[elsewhere](//evil.example/path)",
      '[quote](https://x.example/" onmouseover="alert(1))',
      "**[nested [link](javascript:x)](/ok)**",
    ].join("\n\n");
    const out = await html(hostile);
    expect(out).not.toMatch(/<script|<img|javascript:|data:text|href="\/\/|onmouseover="/);
    expect(out).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(out).toContain("click");
    expect(out).toContain("elsewhere");
    // The one allowed target is still a link; its attribute cannot be broken out of.
    expect(out).not.toMatch(/<a href="https:\/\/x\.example\/"/);
  });

  it("leaves lone markers, unclosed spans and escapes as text", async () => {
    expect(await html("a * b, 2*3, `open, [x] and \\*not em\\*", true)).toBe("<div>a * b, 2*3, `open, [x] and *not em*</div>");
    expect(await html("**unclosed and *half", true)).toBe("<div>**unclosed and *half</div>");
  });

  it("accepts only safe link targets", () => {
    expect(safeHref("https://example.com/a?b=c")).toBe("https://example.com/a?b=c");
    expect(safeHref("http://localhost:8787/docs")).toBe("http://localhost:8787/docs");
    expect(safeHref("/openapi.json")).toBe("/openapi.json");
    expect(safeHref("#Auth")).toBe("#Auth");
    for (const bad of [
      "javascript:alert(1)",
      "JavaScript:alert(1)",
      "data:text/html,x",
      "//evil.example",
      "/\\evil.example",
      "mailto:a@b.c",
      "vbscript:x",
      "",
    ])
      expect(safeHref(bad), bad).toBeNull();
  });
});

describe("GET /docs", () => {
  it("shows descriptions as rendered Markdown, never raw backticks", async () => {
    const res = await call("/docs");
    const page = await res.text();
    const main = /<main>([\s\S]*)<\/main>/.exec(page)![1]!;
    // Every description of the document is rendered: no Markdown code span is left as typed.
    expect(main.replace(/<code>[\s\S]*?<\/code>/g, "")).not.toContain("`");
    expect(main).toMatch(/<code>invalid_credentials<\/code>: Invalid credentials/);
    expect(page).toContain("<p>Read your own writes: <code>");
  });

  it("follows the reader's dark mode and keeps tables and paths within a phone's width", () => {
    expect(DOCS_STYLE).toContain("color-scheme:light dark");
    expect(DOCS_STYLE).toMatch(/@media \(prefers-color-scheme:dark\)\{:root\{--bg:#[0-9a-f]{6};--fg:#[0-9a-f]{6}/);
    // Long paths and code wrap anywhere; names only after their underscores; statuses and yes/no never.
    expect(DOCS_STYLE).toMatch(/h3\{[^}]*overflow-wrap:anywhere/);
    expect(DOCS_STYLE).toMatch(/code\{[^}]*overflow-wrap:anywhere/);
    expect(DOCS_STYLE).toContain(".nowrap{white-space:nowrap}");
  });
});
