import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { PlainKey } from "../i18n";
import type { AppEnv } from "../web/context";
import { frameFor, Layout, renderPage, type Frame } from "./kit";
import { pageSession } from "./session";

/**
 * `/`: where someone who types the worker's address lands. Deployed, a plain page: the brand, a
 * line about what this is, and the way in (or back to the account); nothing about the
 * configuration. In dev mode (`DEV_OUTBOX`, which `npm run dev` sets) it also lists what a
 * developer opens next: the API reference and document, the pages, and the dev outbox's mail.
 */
export const landingPages = new Hono<AppEnv>();

/** The dev mode's links, each with its label and a line saying what is there. */
const DEV_LINKS: readonly { href: string; label: PlainKey; hint: PlainKey }[] = [
  { href: "/docs", label: "landing.dev.docs", hint: "landing.dev.docsHint" },
  { href: "/openapi.json", label: "landing.dev.openapi", hint: "landing.dev.openapiHint" },
  { href: "/login", label: "landing.dev.login", hint: "landing.dev.loginHint" },
  { href: "/register", label: "landing.dev.register", hint: "landing.dev.registerHint" },
  { href: "/account", label: "landing.dev.account", hint: "landing.dev.accountHint" },
  { href: "/dev/outbox", label: "landing.dev.outbox", hint: "landing.dev.outboxHint" },
];

const DevLinks: FC<{ frame: Frame }> = ({ frame: { t } }) => (
  <section aria-labelledby="dev-h">
    <h2 id="dev-h">{t.text("landing.dev.title")}</h2>
    <p>{t.text("landing.dev.intro")}</p>
    <ul class="items">
      {DEV_LINKS.map(({ href, label, hint }) => (
        <li>
          <span>
            <a href={href}>{t.text(label)}</a> <code>{href}</code>
            <br />
            <span class="muted">{t.text(hint)}</span>
          </span>
        </li>
      ))}
    </ul>
  </section>
);

landingPages.get("/", async (c) => {
  const session = await pageSession(c);
  const frame = await frameFor(c, session);
  const { t, branding } = frame;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("landing.title")}>
      <p>{t.text(session ? "landing.signedInIntro" : "landing.intro", { product: branding.productName })}</p>
      <p>
        {session ? (
          <a class="button" href="/account">
            {t.text("landing.toAccount")}
          </a>
        ) : (
          <a class="button" href="/login">
            {t.text("nav.signIn")}
          </a>
        )}
      </p>
      {c.var.deps.config.devOutbox ? <DevLinks frame={frame} /> : null}
    </Layout>,
  );
});
