import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { OAuthProviderConfig } from "../config/oauth";
import { AppError } from "../errors";
import { signInWithIdentity, signUpWithProvedAddress, type ExternalOutcome } from "../federation/accounts";
import { FLOW_TTL_MS, finishFlow, FlowRefused, openFlow, startFlow } from "../federation/flow";
import { linkToAccount } from "../federation/identities";
import { openPending, PENDING_TTL_MS, sealPending, type PendingIdentity } from "../federation/pending";
import { ProviderUnavailable, providerName } from "../federation/provider-client";
import type { ExternalIdentity } from "../federation/provider-identity";
import { person } from "../i18n";
import { requestProofCode } from "../recovery/email-sign-in";
import type { AppEnv } from "../web/context";
import { deviceCookie } from "../web/cookies";
import { emailField, fullNameField } from "../web/schemas";
import { failureFrom, text, validate, type FormData } from "./forms";
import { ProofField, proofNeeded, proveFreshness } from "./fresh-proof";
import { ErrorSummary, Field, Form, frameFor, Layout, renderPage, type FormState } from "./kit";
import { pageTranslator } from "./language";
import { afterSignIn, continuePage, formPost, messagePage, returnToOf } from "./respond";
import { toAccountWithNotice } from "./account-notices";
import { isSecondStep, toSecondStep } from "./second-step";
import { pageSession, signInBrowser, type PageSession } from "./session";
import { z } from "zod";

/**
 * Sign in with an external provider (API.md v1.2), on the pages' side: the flow's start and
 * callback (`/api/v1/auth/oauth/{provider}/…`: they answer HTML and take form posts, so they sit
 * outside the API's JSON and cookie-CSRF guards), the page that asks a person to sign in the
 * existing way before linking (`/login/link`), and the one that asks for an address when the
 * provider gave no verified one (`/login/external`). Linking from the account page is
 * account-identities.tsx.
 */
export const externalSignInPages = new Hono<AppEnv>();

/**
 * The flow's state, verifier and nonce. Lax: it comes back with the provider's top-level redirect
 * (a GET); Apple's cross-site form POST carries no Lax cookie, so that POST is answered with a 303
 * to the same callback as a GET, which does.
 */
const FLOW_COOKIE = "__Host-gh_oauth";
/** A proven identity waiting for a link or an address (federation/pending.ts). */
const PENDING_COOKIE = "__Host-gh_ext";
const cookieOptions = { httpOnly: true, secure: true, sameSite: "Lax", path: "/" } as const;

const BASE = "/api/v1/auth/oauth/:provider";

const providerOf = (c: Context<AppEnv>): OAuthProviderConfig | undefined =>
  c.var.deps.config.oauthProviders.find((p) => p.id === c.req.param("provider"));

/** A refusal page of this flow: what went wrong in the person's words, and the way back. */
async function refusal(c: Context<AppEnv>, status: number, message: string) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("external.failedTitle")} failed>
      <div class="alert" role="alert">
        <p>{message}</p>
      </div>
      <p>
        <a href="/login">{t.text("errors.back")}</a>
      </p>
    </Layout>,
    status,
  );
}

externalSignInPages.get(`${BASE}/start`, async (c) => {
  const provider = providerOf(c);
  if (!provider) return messagePage(c, 404, "errors.notFoundTitle", "errors.notFound");
  const t = await pageTranslator(c, null);
  // A link never starts with a GET (a page anyone can link to would link their identity).
  const intent = c.req.query("intent");
  if (intent !== undefined && intent !== "sign_in") return refusal(c, 400, t.text("external.linkFromAccount"));
  return redirectToProvider(c, provider, { intent: "sign_in", returnTo: returnToOf(c, c.req.query("return_to")), link: null });
});

/** The flow's cookie, and the browser on to the provider (or a page saying it cannot be reached). */
export async function redirectToProvider(
  c: Context<AppEnv>,
  provider: OAuthProviderConfig,
  flow: Parameters<typeof startFlow>[2],
): Promise<Response> {
  try {
    const { location, cookie } = await startFlow(c.var.deps, provider, flow);
    setCookie(c, FLOW_COOKIE, cookie, { ...cookieOptions, maxAge: FLOW_TTL_MS / 1000 });
    return c.redirect(location, 302);
  } catch (error) {
    if (!(error instanceof ProviderUnavailable)) throw error;
    return refusal(c, 502, (await pageTranslator(c, null)).text("external.unavailable", { provider: providerName(provider) }));
  }
}

/** The answer's parameters a callback reads: nothing else of a posted form goes on into a URL. */
const CALLBACK_PARAMS = ["code", "state", "iss", "error", "user"];

externalSignInPages.post(`${BASE}/callback`, async (c) => {
  if (!providerOf(c)) return messagePage(c, 404, "errors.notFoundTitle", "errors.notFound");
  const form: Record<string, unknown> = await c.req.parseBody().catch(() => ({}));
  const query = new URLSearchParams();
  for (const name of CALLBACK_PARAMS) {
    const value = form[name];
    if (typeof value === "string" && value.length <= 2048) query.set(name, value);
  }
  // A cross-site POST brings no Lax cookie: the same callback as a top-level GET brings the flow's.
  return c.redirect(`${c.req.path}?${query.toString()}`, 303);
});

externalSignInPages.get(`${BASE}/callback`, async (c) => {
  const provider = providerOf(c);
  if (!provider) return messagePage(c, 404, "errors.notFoundTitle", "errors.notFound");
  const { deps } = c.var;
  const t = await pageTranslator(c, null);
  const name = providerName(provider);
  const cookie = getCookie(c, FLOW_COOKIE);
  deleteCookie(c, FLOW_COOKIE, cookieOptions);
  let identity: ExternalIdentity;
  let flow;
  try {
    flow = await openFlow(deps, provider.id, cookie);
    identity = checked(await finishFlow(deps, provider, flow, new URL(c.req.url).searchParams));
  } catch (error) {
    if (error instanceof ProviderUnavailable) return refusal(c, 502, t.text("external.unavailable", { provider: name }));
    if (!(error instanceof FlowRefused)) throw error;
    const said = { flow: "external.flow", provider: "external.refused", cancelled: "external.cancelled" } as const;
    return refusal(c, 400, t.text(said[error.reason], { provider: name }));
  }
  if (flow.intent === "link") return finishLink(c, flow.link, identity);
  try {
    return await answerOutcome(c, await signInWithIdentity(deps, identity, deviceCookie(c)), flow.returnTo);
  } catch (error) {
    // The account changed under the sign-in (a parallel password change, a deactivation): start again.
    if (!(error instanceof AppError) || error.code !== "invalid_token") throw error;
    return refusal(c, 409, t.text("external.flow"));
  }
});

/**
 * What a provider says goes through the account's own field rules: an address that is not one
 * counts as none, a name that is not a valid `full_name` as none.
 */
function checked(identity: ExternalIdentity): ExternalIdentity {
  const email = identity.email ? emailField.safeParse(identity.email) : null;
  const name = identity.name ? fullNameField.safeParse(identity.name) : null;
  return {
    ...identity,
    email: email?.success ? email.data : null,
    emailVerified: email?.success === true && identity.emailVerified,
    name: name?.success ? name.data : null,
  };
}

/** A link started on the account page: only for the same account and session that started it. */
async function finishLink(c: Context<AppEnv>, link: { userId: string; sessionId: string } | null, identity: ExternalIdentity) {
  const t = await pageTranslator(c, null);
  const session = await pageSession(c);
  if (!link || !session || session.user.id !== link.userId || session.sessionId !== link.sessionId) {
    return refusal(c, 400, t.text("external.linkSessionChanged"));
  }
  return linkAndConfirm(c, session, identity);
}

async function linkAndConfirm(c: Context<AppEnv>, session: PageSession, identity: ExternalIdentity) {
  const provider = c.var.deps.config.oauthProviders.find((p) => p.id === identity.provider);
  try {
    const linked = await linkToAccount(c.var.deps, session.user, identity);
    return toAccountWithNotice(c, linked === "linked" ? "identity_linked" : "identity_already_linked");
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== "identity_taken") throw error;
    const name = provider ? providerName(provider) : identity.provider;
    return refusal(c, 409, (await pageTranslator(c, null)).text("external.linkTaken", { provider: name }));
  }
}

/** A provider's sign-in as the browser sees it: signed in, on to the second step, or to the page it needs. */
async function answerOutcome(c: Context<AppEnv>, outcome: ExternalOutcome, returnTo: string | null): Promise<Response> {
  switch (outcome.kind) {
    case "signed_in":
      signInBrowser(c, outcome.signedIn);
      return afterSignIn(c, returnTo ?? undefined);
    case "second_step":
      // The second step's token is a SameSite=Strict cookie, which a browser withholds for the whole
      // redirect chain that began at the provider: the hop to `/login/verify` is made from a page.
      return continueInPage(
        c,
        toSecondStep(c, outcome.error, returnTo ?? undefined),
        (await pageTranslator(c, null)).text("secondStep.title"),
      );
    case "link_needed":
    case "email_needed": {
      const pending = await sealPending(c.var.deps, { identity: outcome.identity, returnTo, codeSentTo: null });
      setCookie(c, PENDING_COOKIE, pending, { ...cookieOptions, maxAge: PENDING_TTL_MS / 1000 });
      return c.redirect(outcome.kind === "link_needed" ? "/login/link" : "/login/external", 303);
    }
    case "refused":
      return refusal(c, 403, (await pageTranslator(c, null)).text("login.deactivated"));
  }
}

/**
 * A redirect made from a page instead of a header: a same-site navigation (the second step's Strict
 * cookie goes with it), or one that no form-action rule of the page that posted governs (linking
 * from the account page goes on to the provider). Its link serves browsers that ignore the refresh.
 * The redirect's cookies were set on the context, so the page carries them too.
 */
export function continueInPage(c: Context<AppEnv>, redirect: Response, title: string): Promise<Response> {
  return continuePage(c, redirect.headers.get("location") ?? "/login", title);
}

/** The pending identity of this browser (or a page saying the flow is gone). */
async function pendingOf(c: Context<AppEnv>): Promise<PendingIdentity | null> {
  return openPending(c.var.deps, getCookie(c, PENDING_COOKIE));
}

const nameOfPending = (c: Context<AppEnv>, pending: PendingIdentity) => {
  const provider = c.var.deps.config.oauthProviders.find((p) => p.id === pending.identity.provider);
  return provider ? providerName(provider) : pending.identity.provider;
};

/** `/login/link`: sign in the existing way (signed out), then confirm the link (signed in). */
async function linkPage(c: Context<AppEnv>, pending: PendingIdentity, session: PageSession | null, state?: FormState, status = 200) {
  const frame = await frameFor(c, session, { here: "/login/link" });
  const { t } = frame;
  const provider = nameOfPending(c, pending);
  const email = pending.identity.email;
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("external.linkTitle", { provider })} failed={state !== undefined}>
      <ErrorSummary t={t} state={state} form="external_link" />
      {session ? (
        <>
          <p>
            {email
              ? t.rich("external.linkConfirm", { provider, email: person(email), account: person(session.user.email) })
              : t.rich("external.linkConfirmNoAddress", { provider, account: person(session.user.email) })}
          </p>
          <Form frame={frame} name="external_link" action="/login/link">
            <ProofField
              frame={frame}
              form="external_link"
              kind={proofNeeded(c, session)}
              error={state?.fields?.proof_code ?? state?.fields?.current_password}
            />
            <button type="submit" name="action" value="link">
              {t.text("external.linkSubmit", { provider })}
            </button>{" "}
            <button type="submit" name="action" value="cancel" class="secondary">
              {t.text("external.linkCancel")}
            </button>
          </Form>
        </>
      ) : (
        <>
          <p>
            {email ? t.rich("external.linkIntro", { provider, email: person(email) }) : t.text("external.linkIntroNoAddress", { provider })}
          </p>
          <p>
            <a class="button" href="/login?return_to=%2Flogin%2Flink">
              {t.text("external.linkSignIn")}
            </a>
          </p>
        </>
      )}
    </Layout>,
    status,
  );
}

externalSignInPages.get("/login/link", async (c) => {
  const pending = await pendingOf(c);
  if (!pending) return refusal(c, 400, (await pageTranslator(c, null)).text("external.flow"));
  return linkPage(c, pending, await pageSession(c));
});

externalSignInPages.post(
  "/login/link",
  formPost("external_link", async (c, data, session) => {
    const pending = await pendingOf(c);
    if (!pending) return refusal(c, 400, (await pageTranslator(c, null)).text("external.flow"));
    if (!session) return c.redirect("/login?return_to=%2Flogin%2Flink", 303);
    if (text(data, "action") === "cancel") {
      deleteCookie(c, PENDING_COOKIE, cookieOptions);
      return toAccountWithNotice(c, "link_cancelled");
    }
    const proven = await proveFreshness(c, session, data, "current_password");
    if (!proven.ok) return linkPage(c, pending, session, proven.failure.state, proven.failure.status);
    deleteCookie(c, PENDING_COOKIE, cookieOptions);
    return linkAndConfirm(c, proven.session, pending.identity);
  }),
);

/** `/login/external`: the provider gave no verified address; the person names one and proves it by a mailed code. */
async function addressPage(c: Context<AppEnv>, pending: PendingIdentity, state?: FormState, status = 200) {
  const frame = await frameFor(c, null);
  const { t } = frame;
  const provider = nameOfPending(c, pending);
  const sentTo = pending.codeSentTo;
  const values = state?.values ?? {};
  return renderPage(
    c,
    frame,
    <Layout frame={frame} title={t.text("external.emailTitle")} failed={state !== undefined}>
      <ErrorSummary t={t} state={state} form={sentTo ? "external_code" : "external_email"} />
      {sentTo ? (
        <>
          <p>{t.rich("external.emailSent", { email: person(sentTo) })}</p>
          <p>{t.text("emailCode.warning")}</p>
          <Form frame={frame} name="external_code" action="/login/external/code">
            <Field
              form="external_code"
              name="code"
              label={t.text("fields.sign_in_code.label")}
              hint={t.text("fields.sign_in_code.hint")}
              error={state?.fields?.code}
              autocomplete="one-time-code"
              inputmode="numeric"
              required
              maxlength={16}
            />
            <button type="submit">{t.text("external.emailSubmit")}</button>
          </Form>
          <Form frame={frame} name="external_email" action="/login/external">
            <button type="submit" name="action" value="other" class="secondary">
              {t.text("external.emailOther")}
            </button>
          </Form>
        </>
      ) : (
        <>
          <p>{t.text("external.emailIntro", { provider })}</p>
          <Form frame={frame} name="external_email" action="/login/external">
            <Field
              form="external_email"
              name="email"
              type="email"
              label={t.text("fields.email.label")}
              value={values.email ?? pending.identity.email ?? undefined}
              error={state?.fields?.email}
              autocomplete="email"
              required
              maxlength={254}
            />
            <button type="submit">{t.text("external.emailSend")}</button>
          </Form>
        </>
      )}
    </Layout>,
    status,
  );
}

externalSignInPages.get("/login/external", async (c) => {
  const pending = await pendingOf(c);
  if (!pending) return refusal(c, 400, (await pageTranslator(c, null)).text("external.flow"));
  return addressPage(c, pending);
});

externalSignInPages.post(
  "/login/external",
  formPost("external_email", async (c, data) => {
    const pending = await pendingOf(c);
    if (!pending) return refusal(c, 400, (await pageTranslator(c, null)).text("external.flow"));
    const unsent = { ...pending, codeSentTo: null };
    if (text(data, "action") === "other") return savePending(c, unsent, () => addressPage(c, unsent));
    const values = { email: text(data, "email")?.trim() };
    const t = await pageTranslator(c, null);
    const checkedEmail = validate(t, z.object({ email: emailField }), { email: values.email ?? "" });
    if (!checkedEmail.ok) return addressPage(c, unsent, { fields: checkedEmail.fields, values }, 422);
    try {
      await requestProofCode(c.var.deps, checkedEmail.data.email);
    } catch (error) {
      const failure = failureFrom(t, error, { rate_limited: "email" });
      return addressPage(c, unsent, { ...failure.state, values }, failure.status);
    }
    const sent = { ...pending, codeSentTo: checkedEmail.data.email };
    return savePending(c, sent, () => addressPage(c, sent));
  }),
);

/** The pending identity's cookie rewritten (same expiry), then the page. */
async function savePending(c: Context<AppEnv>, pending: PendingIdentity, page: () => Promise<Response>) {
  setCookie(c, PENDING_COOKIE, await sealPending(c.var.deps, pending), {
    ...cookieOptions,
    maxAge: Math.max(1, Math.floor((pending.exp - c.var.deps.now().getTime()) / 1000)),
  });
  return page();
}

externalSignInPages.post(
  "/login/external/code",
  formPost("external_code", async (c, data: FormData) => {
    const pending = await pendingOf(c);
    if (!pending?.codeSentTo) return refusal(c, 400, (await pageTranslator(c, null)).text("external.flow"));
    const t = await pageTranslator(c, null);
    const code = text(data, "code")?.replace(/\s/g, "") ?? "";
    if (!/^\d{8}$/.test(code)) return addressPage(c, pending, { fields: { code: t.text("fields.sign_in_code.invalid") } }, 422);
    let outcome: ExternalOutcome;
    try {
      outcome = await signUpWithProvedAddress(c.var.deps, pending.identity, { email: pending.codeSentTo, code }, deviceCookie(c));
    } catch (error) {
      if (isSecondStep(error)) return toSecondStep(c, error, pending.returnTo ?? undefined);
      const failure = failureFrom(t, error, { invalid_code: "code", rate_limited: "code" });
      return addressPage(c, pending, failure.state, failure.status);
    }
    if (outcome.kind === "link_needed") {
      return savePending(c, { ...pending, identity: outcome.identity, codeSentTo: null }, () =>
        Promise.resolve(c.redirect("/login/link", 303)),
      );
    }
    deleteCookie(c, PENDING_COOKIE, cookieOptions);
    return answerOutcome(c, outcome, pending.returnTo);
  }),
);
