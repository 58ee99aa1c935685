import type { Child } from "hono/jsx";

/**
 * The little Markdown the OpenAPI document's descriptions use, rendered for `GET /docs`: paragraphs,
 * bullet lists (`- ` or `* `), inline `code`, **bold**, *emphasis* and [links](…) to http(s) or
 * this worker's own paths. The output is hono/jsx nodes, never an HTML string: every character of
 * the source is text that hono/jsx escapes, so markup in a description shows as typed and nothing
 * it says can become an element, an attribute or a script. Anything else Markdown has (headings,
 * images, raw HTML, tables) stays plain text.
 */

/**
 * A link target a description may use: an absolute http(s) URL, or a path or fragment of this
 * worker (`/docs`, `#Auth`). Not `javascript:`/`data:` or any other scheme, and not `//host`
 * (another host, written to look like a path).
 */
export function safeHref(target: string): string | null {
  if (/^#[\w-]*$/.test(target)) return target;
  if (target.startsWith("/") && !target.startsWith("//") && !target.includes("\\")) return target;
  try {
    const url = new URL(target);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Where the next inline construct starts, if it is one (`*` or `**` only in front of a non-space). */
const OPENERS = /`+|\*\*(?=\S)|\*(?=[^\s*])|\[|\\[\\`*_[\]()#!-]/g;

/** One run of inline Markdown as nodes. `links` is false inside a link's own text. */
export function renderInline(source: string, links = true): Child[] {
  const out: Child[] = [];
  let plain = "";
  let at = 0;
  const flush = () => {
    if (plain) out.push(plain);
    plain = "";
  };
  while (at < source.length) {
    OPENERS.lastIndex = at;
    const found = OPENERS.exec(source);
    if (!found) break;
    plain += source.slice(at, found.index);
    const token = found[0];
    const after = found.index + token.length;
    const parsed = parseConstruct(source, token, after, links);
    if (parsed) {
      flush();
      out.push(parsed.node);
      at = parsed.end;
    } else {
      // Not a construct after all (an unclosed backtick, a lone `*`): the character is text.
      plain += token.startsWith("\\") ? token.slice(1) : token[0];
      at = found.index + (token.startsWith("\\") ? 2 : 1);
    }
  }
  plain += source.slice(at);
  flush();
  return out;
}

function parseConstruct(source: string, token: string, after: number, links: boolean): { node: Child; end: number } | null {
  if (token.startsWith("\\")) return null;
  if (token.startsWith("`")) {
    // A code span closes at the next run of exactly as many backticks; its inside is literal.
    const close = new RegExp(`(?<!\`)${token}(?!\`)`, "g");
    close.lastIndex = after;
    const end = close.exec(source);
    if (!end) return null;
    const code = source.slice(after, end.index);
    const trimmed = code.length > 2 && code.startsWith(" ") && code.endsWith(" ") ? code.slice(1, -1) : code;
    return { node: <code>{trimmed}</code>, end: end.index + token.length };
  }
  if (token === "**" || token === "*") {
    const end = findClosing(source, token, after);
    if (end === -1) return null;
    const inner = renderInline(source.slice(after, end), links);
    return { node: token === "**" ? <strong>{inner}</strong> : <em>{inner}</em>, end: end + token.length };
  }
  // `[text](target)`: a link when the target is allowed; otherwise its text alone.
  const label = source.indexOf("](", after);
  if (label === -1 || source.slice(after, label).includes("[")) return null;
  const close = source.indexOf(")", label + 2);
  if (close === -1) return null;
  const text = renderInline(source.slice(after, label), false);
  const href = links ? safeHref(source.slice(label + 2, close).trim()) : null;
  return { node: href ? <a href={href}>{text}</a> : <>{text}</>, end: close + 1 };
}

/** The closing `*` or `**` of an emphasis begun before `from`: after a non-space, not part of a longer run. */
function findClosing(source: string, marker: string, from: number): number {
  for (let i = source.indexOf(marker, from); i !== -1; i = source.indexOf(marker, i + 1)) {
    const before = source[i - 1];
    const next = source[i + marker.length];
    const single = marker === "*" && before === "*";
    if (i > from && before !== undefined && /\S/.test(before) && before !== "\\" && next !== "*" && !single) return i;
  }
  return -1;
}

type Block = { kind: "paragraph"; text: string } | { kind: "list"; items: string[] };

const BULLET = /^\s{0,3}[-*]\s+(.*)$/;

/** Paragraphs (separated by a blank line; single line breaks are spaces) and bullet lists. */
function blocks(source: string): Block[] {
  const out: Block[] = [];
  for (const chunk of source.replace(/\r\n?/g, "\n").split(/\n\s*\n/)) {
    const lines = chunk.split("\n").filter((line) => line.trim() !== "");
    let paragraph: string[] = [];
    let list: string[] | null = null;
    const endParagraph = () => {
      if (paragraph.length) out.push({ kind: "paragraph", text: paragraph.join(" ") });
      paragraph = [];
    };
    for (const line of lines) {
      const bullet = BULLET.exec(line);
      if (bullet) {
        endParagraph();
        if (!list) out.push({ kind: "list", items: (list = []) });
        list.push(bullet[1]!.trim());
      } else if (list && /^\s+\S/.test(line)) {
        // An indented line continues the item above it.
        list[list.length - 1] += ` ${line.trim()}`;
      } else {
        list = null;
        paragraph.push(line.trim());
      }
    }
    endParagraph();
  }
  return out;
}

/**
 * A description as blocks. `tight`: a text that is one paragraph is its inline content alone
 * (no `<p>`), for table cells and the line after a summary.
 */
export function Markdown({ text, tight = false }: { text: string | undefined; tight?: boolean }): Child {
  if (!text) return null;
  const parts = blocks(text);
  if (tight && parts.length === 1 && parts[0]!.kind === "paragraph") return <>{renderInline(parts[0]!.text)}</>;
  return (
    <>
      {parts.map((block) =>
        block.kind === "paragraph" ? (
          <p>{renderInline(block.text)}</p>
        ) : (
          <ul>
            {block.items.map((item) => (
              <li>{renderInline(item)}</li>
            ))}
          </ul>
        ),
      )}
    </>
  );
}
