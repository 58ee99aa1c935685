import type { Child } from "hono/jsx";
import type { Translator } from "../i18n";
import { buttonColours } from "../kernel/accent";

/**
 * The HTML part of every mail: the product's name, a heading, the paragraphs, the action as a link
 * styled as a button with its address written out below it (for clients that strip styles), and a
 * footer saying who sent it and why. Made for mail clients rather than browsers:
 * - styles inline only (many clients drop `<style>`), no tables, no images, no scripts, nothing
 *   loaded from anywhere;
 * - no text or background colour but the button's pair, so a client's dark mode (or none) keeps
 *   everything readable; `color-scheme` tells the clients that can that both schemes are fine;
 * - `lang` and `dir` on the document and again on the wrapper, which clients that drop `<html>`
 *   keep; `role="article"` with the subject as its name, as screen readers expect of a mail body.
 * Addresses and codes are marked left-to-right, so a right-to-left mail cannot reorder their
 * punctuation. Every value goes through hono/jsx, which escapes it; nothing here is concatenated HTML.
 */

export interface MailLayoutProps {
  t: Translator;
  productName: string;
  /** BRAND_ACCENT_COLOR, `#rrggbb`. */
  accentColor: string;
  subject: string;
  /** Each paragraph's content, already decorated (links, codes). */
  paragraphs: Child[];
  action?: { url: string; label: string } | undefined;
  /** The footer's lines: who sent it, and why to this address. */
  footer: Child[];
}

const FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Noto Sans','Helvetica Neue',Arial,sans-serif";
const STYLE = {
  body: "margin:0;padding:0;-webkit-text-size-adjust:100%",
  wrapper: `${FONT};max-width:560px;margin:0 auto;padding:24px 16px;font-size:16px;line-height:1.5`,
  brand: "margin:0 0 24px;padding:0 0 8px;font-size:18px;font-weight:700",
  heading: "margin:0 0 16px;font-size:22px;line-height:1.3;font-weight:700",
  paragraph: "margin:0 0 16px",
  buttonRow: "margin:24px 0 16px",
  button: "display:inline-block;padding:12px 20px;border-radius:6px;font-weight:600;text-decoration:none",
  fallback: "margin:0 0 16px;font-size:14px",
  address: "word-break:break-all;overflow-wrap:anywhere",
  footer: "margin:24px 0 0;padding:16px 0 0;border-top:1px solid #8c959f;font-size:13px",
};

/** Styles of the values a paragraph's words carry, decorated by {@link decorate}. */
const INLINE_STYLE = {
  link: STYLE.address,
  code: "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:1.25em;font-weight:700;letter-spacing:0.12em",
};

/** The whole HTML document of a mail. */
export async function renderMailHtml(props: MailLayoutProps): Promise<string> {
  const { t } = props;
  const colours = buttonColours(props.accentColor);
  const document = (
    <html lang={t.locale} dir={t.dir}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="supported-color-schemes" content="light dark" />
        <title>{props.subject}</title>
      </head>
      <body style={STYLE.body}>
        <div role="article" aria-label={props.subject} lang={t.locale} dir={t.dir} style={STYLE.wrapper}>
          <p style={`${STYLE.brand};border-bottom:3px solid ${colours.background}`}>{props.productName}</p>
          <h1 style={STYLE.heading}>{props.subject}</h1>
          {props.paragraphs.map((p) => (
            <p style={STYLE.paragraph}>{p}</p>
          ))}
          {props.action ? (
            <>
              <p style={STYLE.buttonRow}>
                <a href={props.action.url} style={`${STYLE.button};background-color:${colours.background};color:${colours.label}`}>
                  {props.action.label}
                </a>
              </p>
              <p style={STYLE.fallback}>
                {t.text("mail.layout.linkFallback")}
                <br />
                <span dir="ltr" style={STYLE.address}>
                  {props.action.url}
                </span>
              </p>
            </>
          ) : null}
          <p style={STYLE.footer}>{props.footer.map((line, i) => (i === 0 ? line : [<br />, line]))}</p>
        </div>
      </body>
    </html>
  );
  return `<!DOCTYPE html>${await document}`;
}

/**
 * The paragraph's words with the values worth more than text: each address in `links` becomes a
 * link, the `code` stands out. Only text nodes are split (never markup), and each piece is still
 * escaped by hono/jsx, so a value cannot smuggle anything in.
 */
export function decorate(node: Child, marks: { links: readonly string[]; code?: string | undefined }): Child {
  const needles = [...marks.links, ...(marks.code ? [marks.code] : [])].filter((n) => n !== "");
  if (needles.length === 0) return node;
  const pattern = new RegExp(`(${needles.map(escapeRegExp).join("|")})`);
  const walk = (child: Child): Child => {
    if (Array.isArray(child)) return child.map(walk);
    if (typeof child !== "string") return child;
    // split() with one capturing group puts the matches at the odd indexes.
    return child.split(pattern).map((part, i) => {
      if (i % 2 === 0) return part;
      return marks.links.includes(part) ? (
        <a href={part} dir="ltr" style={INLINE_STYLE.link}>
          {part}
        </a>
      ) : (
        <strong dir="ltr" style={INLINE_STYLE.code}>
          {part}
        </strong>
      );
    });
  };
  return walk(node);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
