import type { Child } from "hono/jsx";
import type { Deps } from "../kernel/deps";
import { person, type Translator } from "../i18n";
import { decorate, renderMailHtml } from "./layout";
import type { MailKind, MailMessage } from "./message";

/**
 * Puts a mail together from its parts, both ways: the plain-text part (paragraphs, the action as
 * "label: address", then the footer) and the HTML part (./layout.tsx) with the same words, the same
 * addresses and the same code. Both end with who sent the mail and why it came to this address.
 */

/** One line of a mail, both ways (`Translator.line`). */
interface Line {
  text: string;
  html: Child;
}

/** One paragraph; several lines of one paragraph break within it. */
type Paragraph = Line | Line[];

interface MailContent {
  kind: MailKind;
  subject: string;
  paragraphs: Paragraph[];
  /** The mail's one action: a button in HTML, "label: address" in text. */
  action?: { url: string; label: string };
  /** Addresses written into the paragraphs' words (not the action's): links in the HTML part. */
  inlineLinks?: string[];
  /** The one-time token the action carries (dev outbox only). */
  token?: string;
  /** The code the words carry: it stands out in the HTML part, and the dev outbox keeps it. */
  code?: string;
}

/** The mail to `to` in `t`'s language. */
export async function compose(deps: Deps, t: Translator, to: string, content: MailContent): Promise<MailMessage> {
  const { subject, paragraphs, action, token, code } = content;
  const { productName, accentColor } = deps.config.branding;
  const footer = [t.line("mail.footer", { product: person(productName) }), t.line("mail.layout.why", { email: person(to) })];
  const linesOf = (p: Paragraph): Line[] => (Array.isArray(p) ? p : [p]);
  const text = [
    ...paragraphs.map((p) =>
      linesOf(p)
        .map((l) => l.text)
        .join("\n"),
    ),
    ...(action ? [`${action.label}: ${action.url}`] : []),
    "--",
    footer.map((l) => l.text).join("\n"),
  ].join("\n\n");
  const marks = { links: content.inlineLinks ?? [], code };
  const html = await renderMailHtml({
    t,
    productName,
    accentColor,
    subject,
    paragraphs: paragraphs.map((p) => linesOf(p).map((l, i) => (i === 0 ? decorate(l.html, marks) : [<br />, decorate(l.html, marks)]))),
    action,
    footer: footer.map((l) => l.html),
  });
  return { to, kind: content.kind, locale: t.locale, subject, text, html, ...(token ? { token } : {}), ...(code ? { code } : {}) };
}
