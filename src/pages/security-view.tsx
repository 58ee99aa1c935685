import type { Child, FC } from "hono/jsx";
import type { MfaStatus } from "../accounts/mfa";
import { qrSvg } from "../factors/totp";
import type { FormName } from "./csrf";
import { ProofField, type ProofKind } from "./fresh-proof";
import { ErrorSummary, Field, Form, whenText, type Frame, type FormState } from "./kit";
import { SectionNotice } from "./account-notices";

/**
 * The account page's two-step verification section: whether an authenticator app is on, setting
 * one up (QR code and key, drawn here: no other service sees the secret), and the recovery codes,
 * shown once in the answer that made them. It also says when `MFA_REQUIRED` applies to the account,
 * and, after an administrator reset the factors, asks the set-up for the code mailed to the account.
 */

/** A set-up begun and not yet confirmed. */
export interface Enrolment {
  uri: string;
  /** Base32, as people type it into an app. */
  secret: string;
}

export interface SecurityView {
  frame: Frame;
  mfa: MfaStatus;
  enrolment: Enrolment | null;
  proof: ProofKind | null;
  stateOf: (form: FormName) => FormState | undefined;
}

/**
 * The mailed code an enrolment needs after an administrator reset the account's factors
 * (accounts/enrolment-proof.ts). Not required: the first press without it is what mails the code.
 */
export const EmailCodeField: FC<{ frame: Frame; form: FormName; error: string | undefined }> = ({ frame, form, error }) => (
  <Field
    form={form}
    name="email_code"
    label={frame.t.text("fields.email_code.label")}
    hint={frame.t.text("fields.email_code.hint")}
    error={error}
    autocomplete="one-time-code"
    inputmode="numeric"
    spellcheck={false}
    maxlength={16}
  />
);

/** What the policy and an administrator's reset mean for this account, before its forms. */
const PolicyNotes: FC<{ frame: Frame; mfa: MfaStatus }> = ({ frame: { t }, mfa }) => {
  const hasFactor = mfa.totp.enabled || mfa.passkeys > 0;
  return (
    <>
      {mfa.required ? (
        <p>
          <strong>{t.text(hasFactor ? "security.required" : "security.requiredMissing")}</strong>
        </p>
      ) : null}
      {mfa.email_code_required ? <p>{t.text("security.resetPending")}</p> : null}
    </>
  );
};

/** "ABCD EFGH …": groups of four are easier to copy by hand. */
const grouped = (secret: string) => secret.match(/.{1,4}/g)?.join(" ") ?? secret;

export const SecuritySection: FC<SecurityView> = ({ frame, mfa, enrolment, proof, stateOf }) => {
  const { t } = frame;
  const summary = (form: FormName) => <ErrorSummary t={t} state={stateOf(form)} form={form} />;
  const proofField = (form: FormName) => (
    <ProofField
      frame={frame}
      form={form}
      kind={proof}
      error={stateOf(form)?.fields?.proof_code ?? stateOf(form)?.fields?.current_password}
    />
  );
  const emailCode = mfa.email_code_required ? (
    <EmailCodeField frame={frame} form="mfa_start" error={stateOf("mfa_start")?.fields?.email_code} />
  ) : null;
  return (
    <section id="security" aria-labelledby="security-h">
      <h2 id="security-h">{t.text("security.title")}</h2>
      <SectionNotice frame={frame} section="security" />
      {summary("mfa_start")}
      {summary("mfa_confirm")}
      {summary("mfa_disable")}
      {summary("recovery_codes")}
      <p>{t.text("security.intro")}</p>
      <PolicyNotes frame={frame} mfa={mfa} />
      {mfa.totp.enabled ? (
        <>
          <p>
            <strong>{t.text("security.on", { date: whenText(t, mfa.totp.created_at) })}</strong>
          </p>
          <p>{t.text("security.codesLeft", { count: mfa.recovery_codes_remaining })}</p>
          <Form frame={frame} name="recovery_codes" action="/account/mfa/recovery-codes" label={t.text("security.regenerate")}>
            <p class="muted">{t.text("security.regenerateIntro")}</p>
            {proofField("recovery_codes")}
            <button type="submit" class="secondary">
              {t.text("security.regenerate")}
            </button>
          </Form>
          <Form frame={frame} name="mfa_disable" action="/account/mfa/totp/disable" label={t.text("security.disable")}>
            <p class="muted">{t.text("security.disableIntro")}</p>
            {proofField("mfa_disable")}
            <button type="submit" class="danger">
              {t.text("security.disable")}
            </button>
          </Form>
        </>
      ) : enrolment ? (
        <>
          <TotpSetupSteps frame={frame} enrolment={enrolment} />
          <Form frame={frame} name="mfa_confirm" action="/account/mfa/totp/confirm">
            <Field
              form="mfa_confirm"
              name="code"
              label={t.text("fields.code.label")}
              hint={t.text("fields.code.hint")}
              error={stateOf("mfa_confirm")?.fields?.code}
              autocomplete="one-time-code"
              inputmode="numeric"
              spellcheck={false}
              required
              maxlength={10}
            />
            {proofField("mfa_confirm")}
            <button type="submit">{t.text("security.confirm")}</button>
          </Form>
          <StartForm frame={frame} proofField={proofField("mfa_start")} emailCode={emailCode} again />
        </>
      ) : (
        <>
          <p>
            <strong>{t.text(mfa.passkeys > 0 ? "security.passkeysOnly" : "security.off")}</strong>
          </p>
          <StartForm frame={frame} proofField={proofField("mfa_start")} emailCode={emailCode} />
        </>
      )}
    </section>
  );
};

/**
 * A pending set-up's steps: scan the QR code or type the key, then enter the app's code (in the form
 * that follows). Shared by the account page and the enrolment a sign-in asks for (enrolment.tsx).
 */
export const TotpSetupSteps: FC<{ frame: Frame; enrolment: Enrolment }> = ({ frame, enrolment }) => {
  const { t } = frame;
  return (
    <>
      <p>{t.text("security.pendingIntro")}</p>
      <ol>
        <li>
          {t.text("security.scan")}
          <div class="qr" role="img" aria-label={t.text("security.qrLabel")} dangerouslySetInnerHTML={{ __html: qrSvg(enrolment.uri) }} />
        </li>
        <li>
          {t.text("security.typeKey")}
          <br />
          <code class="secret" id="totp-secret">
            {grouped(enrolment.secret)}
          </code>
        </li>
        <li>{t.text("security.enterCode")}</li>
      </ol>
    </>
  );
};

const StartForm: FC<{ frame: Frame; proofField: Child; emailCode: Child; again?: boolean }> = ({ frame, proofField, emailCode, again }) => (
  <Form frame={frame} name="mfa_start" action="/account/mfa/totp">
    {again ? <p class="muted">{frame.t.text("security.startAgainIntro")}</p> : null}
    {emailCode}
    {proofField}
    <button type="submit" class={again ? "secondary" : undefined}>
      {frame.t.text(again ? "security.startAgain" : "security.start")}
    </button>
  </Form>
);

/**
 * The recovery codes of this answer, and the only time they are shown: a download that needs no
 * script (a `data:` link), and a copy button that only a browser running the page's one inline
 * script shows ({@link COPY_SCRIPT}).
 */
export const RecoveryCodes: FC<{ frame: Frame; codes: string[]; email: string }> = ({ frame, codes, email }) => {
  const { t } = frame;
  const file = [t.text("security.codesFile", { product: frame.branding.productName, email }), "", ...codes, ""].join("\n");
  return (
    <div class="notice" id="recovery-codes">
      <h2>{t.text("security.codesTitle")}</h2>
      <p>{t.text("security.codesIntro")}</p>
      <ol class="codes" id="recovery-codes-list">
        {codes.map((code) => (
          <li>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <p class="links">
        <a href={`data:text/plain;charset=utf-8,${encodeURIComponent(file)}`} download="recovery-codes.txt">
          {t.text("security.download")}
        </a>
        <button type="button" class="secondary" hidden data-copy="recovery-codes-list" data-done={t.text("security.copied")}>
          {t.text("security.copy")}
        </button>
        <span class="muted" aria-live="polite" id="recovery-codes-copied" />
      </p>
    </div>
  );
};

/**
 * The copy button's script: it shows the button only where it can work (clipboard API), and says
 * "Copied" in the live region beside it. The page works the same without it.
 */
export const COPY_SCRIPT = `for (const button of document.querySelectorAll("button[data-copy]")) {
  const list = document.getElementById(button.dataset.copy);
  const said = document.getElementById(button.dataset.copy.replace(/-list$/, "-copied"));
  if (!list || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", () =>
    navigator.clipboard.writeText(list.innerText.trim()).then(() => {
      if (said) said.textContent = button.dataset.done;
    }),
  );
}`;
