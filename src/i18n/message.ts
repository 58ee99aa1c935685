/**
 * A catalogue message is plain text with two kinds of holes: `{name}` placeholders, filled with a
 * value, and `<name>…</name>` slots, whose inner text a component wraps (a link, emphasis). No
 * other markup exists: a message never becomes HTML by itself, and `<`, `>`, `{`, `}` appear only
 * as these holes. Parsed once per template.
 */

export type Token =
  { kind: "text"; text: string } | { kind: "placeholder"; name: string } | { kind: "slot"; name: string; children: Token[] };

const NAME = "[a-z][a-zA-Z0-9_]*";
const HOLE = new RegExp(`\\{(${NAME})\\}|<(${NAME})>(.*?)</\\2>`, "gs");

const parsed = new Map<string, Token[]>();

/** The tokens of a template (cached). */
export function parseMessage(template: string): Token[] {
  let tokens = parsed.get(template);
  if (!tokens) {
    tokens = tokenize(template);
    parsed.set(template, tokens);
  }
  return tokens;
}

function tokenize(template: string): Token[] {
  const tokens: Token[] = [];
  let last = 0;
  for (const match of template.matchAll(HOLE)) {
    if (match.index > last) tokens.push({ kind: "text", text: template.slice(last, match.index) });
    if (match[1]) tokens.push({ kind: "placeholder", name: match[1] });
    else tokens.push({ kind: "slot", name: match[2]!, children: tokenize(match[3] ?? "") });
    last = match.index + match[0].length;
  }
  if (last < template.length) tokens.push({ kind: "text", text: template.slice(last) });
  return tokens;
}

/** The placeholder and slot names of a template: what a translation must keep exactly. */
export function holesOf(template: string): { placeholders: string[]; slots: string[] } {
  const placeholders = new Set<string>();
  const slots = new Set<string>();
  const walk = (tokens: Token[]) => {
    for (const token of tokens) {
      if (token.kind === "placeholder") placeholders.add(token.name);
      if (token.kind === "slot") {
        slots.add(token.name);
        walk(token.children);
      }
    }
  };
  walk(tokenize(template));
  return { placeholders: [...placeholders].sort(), slots: [...slots].sort() };
}

/** Whether a template has markup or braces other than its holes (which a translation must not add). */
export function hasStrayMarkup(template: string): boolean {
  let rest = template.replace(new RegExp(`\\{${NAME}\\}`, "g"), "");
  for (let previous = ""; previous !== rest;) {
    previous = rest;
    rest = rest.replace(new RegExp(`<(${NAME})>(.*?)</\\1>`, "gs"), "$2");
  }
  return /[<>{}]/.test(rest);
}
