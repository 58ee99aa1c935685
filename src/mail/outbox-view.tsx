import type { OutboxEntry } from "./outbox";

/**
 * The dev outbox as a page (`GET /dev/outbox`, dev mode only; English: it is a developer's tool):
 * newest first, each mail's recipient, subject, time, the links it carries and its code, its HTML
 * part in a sandboxed frame and its text part below.
 *
 * The mail's HTML goes into the frame's `srcdoc` attribute, which hono/jsx escapes like any value,
 * so nothing of it becomes this page's markup. The frame's `sandbox` gives it an opaque origin and
 * no scripts (a click on one of its links may only take this tab there), and it inherits this
 * page's CSP: see {@link outboxViewCsp}.
 */

export interface OutboxViewProps {
  productName: string;
  entries: OutboxEntry[];
  /** The recipient asked for (`?to=`), if any. */
  to: string | null;
  /** Why the filter was refused, if it was. */
  error: string | null;
  /** The CSP nonce of this response's stylesheet. */
  nonce: string;
}

/**
 * The page's policy, as strict as the hosted pages' (nothing from elsewhere, no framing of it, no
 * scripts at all) plus what a mail in a srcdoc frame needs: srcdoc documents inherit this policy,
 * and a mail's styles are `style` attributes, so those are allowed (they cannot run code).
 */
export function outboxViewCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    "style-src-attr 'unsafe-inline'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

const STYLESHEET = `:root{color-scheme:light dark}
body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#fff;color:#16191d}
a{color:#0b57d0}
@media (prefers-color-scheme:dark){body{background:#0e1115;color:#e8ebef}a{color:#8ab4f8}}
header,main{max-width:60rem;margin:0 auto;padding:0 1rem}
header{padding-block:1rem;border-bottom:1px solid GrayText}
h1{font-size:1.6rem;margin:1rem 0 .5rem}
h2{font-size:1.2rem;margin:0 0 .5rem;overflow-wrap:anywhere}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:1rem 0}
label{display:block;font-weight:600}
input{font:inherit;padding:.4rem .5rem;min-width:min(20rem,100%);max-width:100%;box-sizing:border-box}
button{font:inherit;padding:.4rem 1rem}
ol.mails{list-style:none;padding:0;margin:0}
ol.mails>li{border:1px solid GrayText;border-radius:8px;padding:1rem;margin:0 0 1.5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1rem}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
ul.links{padding-inline-start:1.25rem;margin:0 0 1rem}
ul.links a{overflow-wrap:anywhere}
iframe{display:block;width:100%;height:28rem;border:1px solid GrayText;border-radius:4px;box-sizing:border-box}
details{margin-top:.75rem}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.5rem 0 0}
.alert{border:2px solid;padding:.5rem 1rem;border-radius:4px}
code{overflow-wrap:anywhere}`;

/** The page, as an HTML document. */
export async function renderOutboxView(props: OutboxViewProps): Promise<string> {
  const { entries, to } = props;
  const title = to ? `Dev outbox: ${to}` : "Dev outbox";
  const page = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <title>{`${title} · ${props.productName}`}</title>
        <style nonce={props.nonce} dangerouslySetInnerHTML={{ __html: STYLESHEET }} />
      </head>
      <body>
        <header>
          <strong>{props.productName}</strong> · development only
        </header>
        <main>
          <h1>{title}</h1>
          <p>
            Mail this dev server would have sent (<code>DEV_OUTBOX</code> is on), newest first, kept for a day. As JSON:{" "}
            <code>/api/v1/dev/outbox?to=…&amp;include=html</code>.
          </p>
          <form method="get" action="/dev/outbox" role="search" aria-label="Filter by recipient">
            <div>
              <label for="to">Recipient</label>
              <input id="to" name="to" type="email" value={to ?? ""} autocomplete="off" spellcheck={false} />
            </div>
            <button type="submit">Show their mail</button>
            {to ? <a href="/dev/outbox">Show everyone's mail</a> : null}
          </form>
          {props.error ? (
            <p class="alert" role="alert">
              {props.error}
            </p>
          ) : (
            <p>{countLine(entries.length, to)}</p>
          )}
          <ol class="mails">
            {entries.map((entry, i) => (
              <li>
                <Mail entry={entry} id={`mail-${i + 1}`} />
              </li>
            ))}
          </ol>
        </main>
      </body>
    </html>
  );
  return `<!DOCTYPE html>${await page}`;
}

function countLine(count: number, to: string | null): string {
  const mails = count === 1 ? "1 mail" : `${count} mails`;
  return to ? `${mails} to ${to}.` : `${mails}, to every address.`;
}

function Mail({ entry, id }: { entry: OutboxEntry; id: string }) {
  const links = linksIn(entry.text);
  return (
    <article aria-labelledby={`${id}-subject`}>
      <h2 id={`${id}-subject`} lang={entry.locale} dir="auto">
        {entry.subject}
      </h2>
      <dl>
        <dt>To</dt>
        <dd>
          <a href={`/dev/outbox?${new URLSearchParams({ to: entry.to }).toString()}`}>{entry.to}</a>
        </dd>
        <dt>Sent</dt>
        <dd>
          <time datetime={entry.created_at}>{entry.created_at.replace("T", " ").replace(/\.\d+Z$/, " UTC")}</time>
        </dd>
        <dt>Kind</dt>
        <dd>
          {entry.kind}
          {entry.subtype ? ` (${entry.subtype})` : ""}, language {entry.locale}
        </dd>
        {entry.code ? (
          <>
            <dt>Code</dt>
            <dd>
              <code>{entry.code}</code>
            </dd>
          </>
        ) : null}
      </dl>
      {links.length ? (
        <ul class="links" aria-label="Links in this mail">
          {links.map((url) => (
            <li>
              <a href={url}>{url}</a>
            </li>
          ))}
        </ul>
      ) : null}
      {entry.html ? (
        <iframe
          title={`HTML part: ${entry.subject}`}
          sandbox="allow-top-navigation-by-user-activation"
          srcdoc={opensLinksInNewTabs(entry.html)}
        />
      ) : null}
      <details open={entry.html ? undefined : true}>
        <summary>Text part</summary>
        <pre lang={entry.locale} dir="auto">
          {entry.text}
        </pre>
      </details>
    </article>
  );
}

/** The http(s) addresses a text carries, in order, once each (no trailing sentence punctuation). */
export function linksIn(text: string): string[] {
  const found = text.match(/https?:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+/g) ?? [];
  return [...new Set(found.map((url) => url.replace(/[.,;:!?')\]]+$/, "")))];
}

/**
 * A link in the frame would otherwise open inside it, where every Gatehouse page refuses to be
 * framed: a `<base target>` (no `href`, so `base-uri 'none'` does not apply) opens it in this tab
 * instead, as the page's own links do (the sandbox allows that on a click only).
 */
function opensLinksInNewTabs(html: string): string {
  return html.replace("<head>", '<head><base target="_top">');
}
