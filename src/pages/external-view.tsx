import type { FC } from "hono/jsx";
import type { OAuthProviderConfig } from "../config/oauth";
import { providerName } from "../federation/provider-client";
import type { IdentityView } from "../federation/identities";
import type { FormName } from "./csrf";
import { ProofField, type ProofKind } from "./fresh-proof";
import { ErrorSummary, Form, Hidden, whenText, type FormState, type Frame } from "./kit";
import { SectionNotice } from "./account-notices";

/**
 * The external providers on the pages: a button per OAUTH_PROVIDERS entry on `/login` and
 * `/register` (a plain link to the flow's start: no script, no image or font from the provider,
 * the brand's name as the brand spells it), and the account page's list of linked identities.
 */

/** The start of a sign-in flow with `provider`, coming back to `returnTo`. */
const startPath = (provider: Pick<OAuthProviderConfig, "id">, returnTo: string | null) =>
  `/api/v1/auth/oauth/${provider.id}/start${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ""}`;

export const ProviderButtons: FC<{ frame: Frame; providers: OAuthProviderConfig[]; returnTo: string | null }> = (p) => {
  if (p.providers.length === 0) return null;
  const { t } = p.frame;
  return (
    <nav class="providers" aria-label={t.text("external.or")}>
      {p.providers.map((provider) => (
        <a class="button secondary" href={startPath(provider, p.returnTo)}>
          {t.text("external.continueWith", { provider: providerName(provider) })}
        </a>
      ))}
    </nav>
  );
};

/** `/account#identities`: what is linked, unlink buttons, and a link button per provider not linked yet. */
export const IdentitiesSection: FC<{
  frame: Frame;
  providers: OAuthProviderConfig[];
  identities: IdentityView[];
  /** The proof these sensitive forms need now (a stale session), or null. */
  proof: ProofKind | null;
  /** The session is stale and has no inline proof to give (no password, no second factor): sign in again. */
  signInAgain: boolean;
  stateOf: (form: FormName) => FormState | undefined;
}> = (p) => {
  const { frame, providers, identities } = p;
  const { t } = frame;
  if (providers.length === 0 && identities.length === 0) return null;
  const nameOf = (id: string) => {
    const provider = providers.find((x) => x.id === id);
    return provider ? providerName(provider) : id;
  };
  const linked = new Set(identities.map((i) => i.provider));
  const proofError = (form: FormName) => p.stateOf(form)?.fields?.proof_code ?? p.stateOf(form)?.fields?.current_password;
  return (
    <section id="identities" aria-labelledby="identities-h">
      <h2 id="identities-h">{t.text("identities.title")}</h2>
      <SectionNotice frame={frame} section="identities" />
      <ErrorSummary t={t} state={p.stateOf("identity_link")} form="identity_link" />
      <ErrorSummary t={t} state={p.stateOf("identity_unlink")} form="identity_unlink" />
      <p>{t.text("identities.intro")}</p>
      {p.signInAgain ? (
        <p>
          {t.rich("identities.signInAgain", null, {
            link: (children) => <a href="/login?return_to=%2Faccount%23identities">{children}</a>,
          })}
        </p>
      ) : null}
      {identities.length === 0 ? (
        <p>{t.text("identities.none")}</p>
      ) : (
        <ul class="items">
          {identities.map((identity) => (
            <li>
              <strong>{nameOf(identity.provider)}</strong>
              {identity.email ? ` · ${identity.email}` : ""}
              <br />
              <small>{t.text("identities.linked", { date: whenText(t, identity.created_at) })}</small>
              {p.signInAgain ? null : (
                <Form frame={frame} name="identity_unlink" action="/account/identities/unlink">
                  <Hidden name="id" value={identity.id} />
                  <ProofField frame={frame} form="identity_unlink" kind={p.proof} error={proofError("identity_unlink")} />
                  <button type="submit" class="secondary">
                    {t.text("identities.unlink")}
                  </button>
                </Form>
              )}
            </li>
          ))}
        </ul>
      )}
      {p.signInAgain
        ? null
        : providers
            .filter((provider) => !linked.has(provider.id))
            .map((provider) => (
              <Form frame={frame} name="identity_link" action="/account/identities/link">
                <Hidden name="provider" value={provider.id} />
                <ProofField frame={frame} form="identity_link" kind={p.proof} error={proofError("identity_link")} />
                <button type="submit" class="secondary">
                  {t.text("identities.link", { provider: providerName(provider) })}
                </button>
              </Form>
            ))}
    </section>
  );
};
