import type { FC } from "hono/jsx";
import type { FormName } from "./csrf";
import { ErrorSummary, Field, Form, Hidden, Layout, Notice, type Frame, type FormState } from "./kit";
import { PasskeyForm } from "./passkey-view";
import { EmailCodeField, RecoveryCodes, TotpSetupSteps, type Enrolment } from "./security-view";
import { withReturn } from "./second-step";

/**
 * What `/login/enrol` shows (enrolment.tsx): the choice of a second factor the policy requires, an
 * authenticator app's set-up (no script needed) or a passkey (the pages' passkey script), and the
 * recovery codes once one is set up. The words are the account page's where the step is the same.
 */

/** The forms of the page (csrf.ts): the app's start and confirmation, and the passkey. */
export type EnrolmentForm = Extract<FormName, "enrol_totp_start" | "enrol_totp_confirm" | "enrol_passkey">;

export interface EnrolmentView {
  frame: Frame;
  returnTo: string | null;
  /** An app's set-up begun and not yet confirmed: its QR code stays until it is. */
  pending: Enrolment | null;
  /**
   * An administrator reset the factors, so starting a set-up also needs a code mailed to the
   * account's address (`needed`), which the service has just mailed (`sent`); null: no code needed.
   */
  mailbox: "needed" | "sent" | null;
  notice: string | null;
  failed: { form: EnrolmentForm; state: FormState } | undefined;
}

export const EnrolmentPage: FC<EnrolmentView> = (view) => {
  const { frame, returnTo, pending, mailbox, failed } = view;
  const { t } = frame;
  const stateOf = (form: EnrolmentForm) => (failed?.form === form ? failed.state : undefined);
  // The same mailed code starts either set-up, so every start form asks for it.
  const emailCode = (form: EnrolmentForm) =>
    mailbox ? <EmailCodeField frame={frame} form={form} error={stateOf(form)?.fields?.email_code} /> : null;
  return (
    <Layout frame={frame} title={t.text("enrolment.title")} failed={failed !== undefined}>
      <Notice t={t} notice={view.notice} />
      {failed ? <ErrorSummary t={t} state={failed.state} form={failed.form} /> : null}
      <p>{t.text("enrolment.intro")}</p>
      {mailbox ? (
        <div class="notice" role="status">
          <p>{t.text(mailbox === "sent" ? "enrolment.codeSent" : "enrolment.mailboxIntro")}</p>
        </div>
      ) : null}
      <section aria-labelledby="enrol-app-h">
        <h2 id="enrol-app-h">{t.text("enrolment.appHeading")}</h2>
        {pending ? (
          <>
            <TotpSetupSteps frame={frame} enrolment={pending} />
            <Form frame={frame} name="enrol_totp_confirm" action="/login/enrol/totp/confirm">
              <Hidden name="return_to" value={returnTo} />
              <Field
                form="enrol_totp_confirm"
                name="code"
                label={t.text("fields.code.label")}
                hint={t.text("fields.code.hint")}
                error={stateOf("enrol_totp_confirm")?.fields?.code}
                autocomplete="one-time-code"
                inputmode="numeric"
                spellcheck={false}
                required
                maxlength={10}
              />
              <button type="submit">{t.text("security.confirm")}</button>
            </Form>
          </>
        ) : (
          <p>{t.text("enrolment.appIntro")}</p>
        )}
        <Form frame={frame} name="enrol_totp_start" action="/login/enrol/totp">
          <Hidden name="return_to" value={returnTo} />
          {pending ? <p class="muted">{t.text("security.startAgainIntro")}</p> : null}
          {emailCode("enrol_totp_start")}
          <button type="submit" class={pending ? "secondary" : undefined}>
            {t.text(pending ? "security.startAgain" : "enrolment.appStart")}
          </button>
        </Form>
      </section>
      <section aria-labelledby="enrol-passkey-h">
        <h2 id="enrol-passkey-h">{t.text("enrolment.passkeyHeading")}</h2>
        <p>{t.text("enrolment.passkeyIntro")}</p>
        <PasskeyForm
          frame={frame}
          name="enrol_passkey"
          action="/login/enrol/passkey"
          ceremony="create"
          options="/login/enrol/passkey-options"
          failed={t.text(mailbox ? "enrolment.passkeyFailedMailbox" : "enrolment.passkeyFailed")}
          returnTo={returnTo}
          label={t.text("enrolment.passkeyStart")}
        >
          {emailCode("enrol_passkey")}
          <button type="submit" class={pending ? "secondary" : undefined}>
            {t.text("enrolment.passkeyStart")}
          </button>
        </PasskeyForm>
        <noscript>
          <p class="muted">{t.text("enrolment.passkeyNeedsScript")}</p>
        </noscript>
      </section>
      <p class="links">
        <a href={withReturn("/login", returnTo)}>{t.text("secondStep.startAgain")}</a>
      </p>
    </Layout>
  );
};

/**
 * The answer that set the factor up: its recovery codes, shown this once, and a link on to
 * `/login/verify` (drawn as a button), where the new factor finishes the sign-in.
 */
export const EnrolledPage: FC<{
  frame: Frame;
  factor: "totp" | "passkey";
  codes: string[] | undefined;
  email: string;
  returnTo: string | null;
}> = ({ frame, factor, codes, email, returnTo }) => {
  const { t } = frame;
  return (
    <Layout frame={frame} title={t.text("enrolment.title")}>
      <div class="notice" role="status">
        <p>{t.text(factor === "totp" ? "enrolment.appDone" : "enrolment.passkeyDone")}</p>
      </div>
      {codes ? <RecoveryCodes frame={frame} codes={codes} email={email} /> : null}
      <p>
        <a class="button" href={withReturn("/login/verify", returnTo)}>
          {t.text("enrolment.continue")}
        </a>
      </p>
    </Layout>
  );
};
