import { Hono, type Context } from "hono";
import { jwtVerify } from "jose";
import { findClient } from "../db/oauth";
import { answerUrl, issueCode, nextStep, parseAuthorizationRequest, sealAuthAfter, type AuthorizationRequest } from "../oidc/authorize";
import { redirectUriMatches } from "../oidc/redirect-uris";
import { keyOfKid } from "../oidc/tokens";
import { shippedLocale } from "../i18n";
import { logOut } from "../sessions/sessions";
import type { AppEnv } from "../web/context";
import { refreshCookie } from "../web/cookies";
import { text, type FormData } from "./forms";
import { Form, frameFor, Hidden, Layout, renderPage } from "./kit";
import { pageTranslator } from "./language";
import { continuePage, formPost, messagePage } from "./respond";
import { pageSession, signOutBrowser, type PageSession } from "./session";

/**
 * Gatehouse as an OpenID provider, the browser side (API.md v1.2): the authorization endpoint
 * (`/oauth/authorize`: sign-in on the hosted pages with every method, then consent, then the code)
 * and RP-initiated logout (`/oauth/logout`). An unknown client or a redirect URI it never
 * registered gets a 400 page, never a redirect. Redirect-only: no popup (these pages keep
 * `Cross-Origin-Opener-Policy` as every page does).
 */
export const oauthProviderPages = new Hono<AppEnv>();

/** The request's parameters carried from the consent page back to its POST (re-checked there). */
const CARRIED = [
  "client_id",
  "redirect_uri",
  "response_type",
  "scope",
  "state",
  "nonce",
  "code_challenge",
  "code_challenge_method",
  "prompt",
  "max_age",
  "resource",
  "auth_after",
];

function refused(c: Context<AppEnv>, page: "unknown_client" | "bad_redirect_uri") {
  return messagePage(c, 400, "oauth.refusedTitle", page === "unknown_client" ? "oauth.unknownClient" : "oauth.badRedirectUri");
}

/**
 * Back to the client (its code, or its error) from a page rather than a redirect: the form that led
 * here (sign-in, second step, consent, logout) carries a CSP whose form-action names this site only,
 * and browsers apply it to every redirect after a submission, so a 303 to the app's redirect URI
 * would be blocked. A `Refresh` (header and meta) is a navigation no form-action governs; the link
 * serves a browser that ignores both.
 */
function toClient(c: Context<AppEnv>, url: string, label: string): Promise<Response> {
  return continuePage(c, url, label, { refreshHeader: true });
}

/** The authorization request as it came, for the sign-in's `return_to` (with `auth_after` for a new sign-in). */
function authorizeUrl(c: Context<AppEnv>, params: Record<string, string | undefined>, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const name of CARRIED) {
    const value = params[name];
    if (value !== undefined && name !== "prompt") query.set(name, value);
  }
  const prompt = params.prompt
    ?.split(" ")
    .filter((p) => p !== "login")
    .join(" ");
  if (prompt) query.set("prompt", prompt);
  for (const [name, value] of Object.entries(extra)) query.set(name, value);
  return `/oauth/authorize?${query.toString()}`;
}

/** What happens for a parsed request and this browser's session: a sign-in, the consent page, or the code. */
async function proceed(
  c: Context<AppEnv>,
  request: AuthorizationRequest,
  params: Record<string, string | undefined>,
  session: PageSession | null,
) {
  const { deps } = c.var;
  const { step, grant } = await nextStep(deps, request, session);
  if (step === "sign_in") {
    if (request.prompt.has("none")) return c.redirect(answerUrl(deps, request, { error: "login_required" }), 302);
    const again = session !== null;
    // The sign-in this sends the person to is the one the request accepts (sealed: not forgeable in a URL).
    const back = authorizeUrl(c, params, { auth_after: await sealAuthAfter(deps, request.client.id) });
    const hint = params.login_hint && params.login_hint.length <= 254 ? `&login_hint=${encodeURIComponent(params.login_hint)}` : "";
    return c.redirect(`/login?${again ? "reauth=1&" : ""}return_to=${encodeURIComponent(back)}${hint}`, 303);
  }
  if (step === "consent") {
    if (request.prompt.has("none")) return c.redirect(answerUrl(deps, request, { error: "consent_required" }), 302);
    return consentPage(c, request, params, session!);
  }
  return toClient(c, await issueCode(deps, request, session!, false, grant), request.client.name);
}

oauthProviderPages.get("/oauth/authorize", async (c) => {
  const params = c.req.query();
  // `ui_locales`: the first shipped language it names speaks on every page of the flow (`lang` is
  // the pages' own switch, remembered in its cookie).
  const uiLocale = params.ui_locales
    ?.split(" ")
    .map(shippedLocale)
    .find((l) => l !== null);
  if (uiLocale && params.lang === undefined) {
    const url = new URL(c.req.url);
    url.searchParams.set("lang", uiLocale);
    return c.redirect(`${url.pathname}${url.search}`, 303);
  }
  const parsed = await parseAuthorizationRequest(c.var.deps, (name) => params[name]);
  if (!parsed.ok) return "page" in parsed ? refused(c, parsed.page) : c.redirect(parsed.redirect, 302);
  const session = await pageSession(c);
  await pageTranslator(c, session);
  return proceed(c, parsed.request, params, session);
});

async function consentPage(
  c: Context<AppEnv>,
  request: AuthorizationRequest,
  params: Record<string, string | undefined>,
  session: PageSession,
) {
  const frame = await frameFor(c, session);
  const { t } = frame;
  const host = URL.canParse(request.redirectUri)
    ? new URL(request.redirectUri).host || new URL(request.redirectUri).protocol
    : request.redirectUri;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("oauth.consentTitle", { app: request.client.name })}>
      <p>{t.text("oauth.consentIntro", { app: request.client.name, host })}</p>
      {request.client.dynamic ? <p class="alert">{t.text("oauth.unverified")}</p> : null}
      <ul>
        {request.scopes.map((scope) => (
          <li>{t.text(`oauth.scopes.${scope}`)}</li>
        ))}
      </ul>
      <Form frame={frame} name="oauth_consent" action="/oauth/authorize">
        {CARRIED.map((name) => (
          <Hidden name={name} value={params[name]} />
        ))}
        <button type="submit" name="decision" value="allow">
          {t.text("oauth.allow")}
        </button>{" "}
        <button type="submit" name="decision" value="deny" class="secondary">
          {t.text("oauth.deny")}
        </button>
      </Form>
    </Layout>,
  );
}

oauthProviderPages.post(
  "/oauth/authorize",
  formPost("oauth_consent", async (c, data: FormData, session) => {
    const params = Object.fromEntries(CARRIED.map((name) => [name, text(data, name)]));
    const parsed = await parseAuthorizationRequest(c.var.deps, (name) => params[name]);
    if (!parsed.ok) return "page" in parsed ? refused(c, parsed.page) : toClient(c, parsed.redirect, parsed.redirect);
    const { request } = parsed;
    if (!session) return proceed(c, request, params, null);
    if (text(data, "decision") !== "allow")
      return toClient(c, answerUrl(c.var.deps, request, { error: "access_denied" }), request.client.name);
    // The sign-in the request needs still holds (the consent page may have been open a while).
    const { step } = await nextStep(c.var.deps, { ...request, prompt: new Set(["consent"]) }, session);
    if (step === "sign_in") return proceed(c, request, params, session);
    return toClient(c, await issueCode(c.var.deps, request, session, true), request.client.name);
  }),
);

/** The client an `id_token_hint` was issued to, when it is one of ours (expired hints are still hints). */
async function hintedClient(c: Context<AppEnv>, hint: string | undefined): Promise<{ clientId: string; sub: string } | null> {
  if (!hint || hint.length > 4096) return null;
  const keys = await c.var.deps.keys();
  try {
    const { payload } = await jwtVerify(hint, keyOfKid(keys), {
      issuer: c.var.deps.config.publicUrl,
      typ: "JWT",
      currentDate: new Date(0),
    });
    return typeof payload.aud === "string" && typeof payload.sub === "string" ? { clientId: payload.aud, sub: payload.sub } : null;
  } catch {
    return null;
  }
}

/** Where logout goes after: the client's registered post-logout URI (with `state`), or the sign-in page. */
async function afterLogout(c: Context<AppEnv>, params: Record<string, string | undefined>, clientId: string | undefined): Promise<string> {
  const uri = params.post_logout_redirect_uri;
  const client = clientId ? await findClient(c.var.deps.db, clientId) : undefined;
  if (!uri || !client || !redirectUriMatches(client.postLogoutRedirectUris, uri)) return "/login?notice=signed_out";
  const url = new URL(uri);
  if (params.state) url.searchParams.set("state", params.state);
  return url.href;
}

async function signOut(c: Context<AppEnv>, session: PageSession | null) {
  if (session)
    await logOut(
      c.var.deps,
      { userId: session.user.id, sessionId: session.sessionId },
      { refreshToken: refreshCookie(c), everywhere: false },
    );
  signOutBrowser(c);
}

const LOGOUT_PARAMS = ["id_token_hint", "post_logout_redirect_uri", "state", "client_id"];

/**
 * RP-initiated logout: with a valid `id_token_hint` of the signed-in person, signs out at once; without
 * one (anyone can link here), a confirmation first. Never redirects to an unregistered URI.
 */
oauthProviderPages.get("/oauth/logout", async (c) => {
  const params = Object.fromEntries(LOGOUT_PARAMS.map((n) => [n, c.req.query(n)]));
  const session = await pageSession(c);
  const hint = await hintedClient(c, params.id_token_hint);
  const clientId = hint?.clientId ?? params.client_id;
  if (!session) return c.redirect(await afterLogout(c, params, hint?.clientId), 303);
  if (hint && hint.sub === session.user.id) {
    await signOut(c, session);
    return c.redirect(await afterLogout(c, params, clientId), 303);
  }
  const frame = await frameFor(c, session);
  const { t } = frame;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("logout.title")}>
      <p>{t.text("oauth.logoutConfirm")}</p>
      <Form frame={frame} name="oauth_logout" action="/oauth/logout">
        {LOGOUT_PARAMS.map((name) => (
          <Hidden name={name} value={params[name]} />
        ))}
        <button type="submit">{t.text("logout.submit")}</button>
      </Form>
    </Layout>,
  );
});

oauthProviderPages.post(
  "/oauth/logout",
  formPost("oauth_logout", async (c, data, session) => {
    const params = Object.fromEntries(LOGOUT_PARAMS.map((n) => [n, text(data, n)]));
    const hint = await hintedClient(c, params.id_token_hint);
    await signOut(c, session);
    // Without a hint the client is not proven: only a registered URI of the named client, and no state leaks elsewhere.
    const to = await afterLogout(c, params, hint?.clientId ?? params.client_id);
    return to.startsWith("/") ? c.redirect(to, 303) : toClient(c, to, (await pageTranslator(c, null)).text("logout.signedOut"));
  }),
);
