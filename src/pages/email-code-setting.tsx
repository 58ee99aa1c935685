import type { FC } from "hono/jsx";
import type { FormName } from "./csrf";
import { ProofField, type ProofKind } from "./fresh-proof";
import { ErrorSummary, Form, type Frame, type FormState } from "./kit";
import { SectionNotice } from "./account-notices";

/**
 * The account page's switch for signing in with a mailed code (API.md v1.2 "A person can turn code
 * sign-in off for their account"): someone who never uses it closes the mailbox as a way in. It is
 * sensitive like the factors' forms, so a stale session proves itself in the form.
 */
export const EmailCodeSection: FC<{
  frame: Frame;
  enabled: boolean;
  proof: ProofKind | null;
  stateOf: (form: FormName) => FormState | undefined;
}> = (p) => {
  const { frame, enabled, proof } = p;
  const { t } = frame;
  const state = p.stateOf("email_code_setting");
  return (
    <section id="email-code" aria-labelledby="email-code-h">
      <h2 id="email-code-h">{t.text("emailCodeSetting.title")}</h2>
      <SectionNotice frame={frame} section="email-code" />
      <ErrorSummary t={t} state={state} form="email_code_setting" />
      <p>
        <strong>{t.text(enabled ? "emailCodeSetting.on" : "emailCodeSetting.off")}</strong>
      </p>
      <Form frame={frame} name="email_code_setting" action="/account/email-code">
        <input type="hidden" name="enabled" value={enabled ? "false" : "true"} />
        <ProofField
          frame={frame}
          form="email_code_setting"
          kind={proof}
          error={state?.fields?.proof_code ?? state?.fields?.current_password}
        />
        <button type="submit" class="secondary">
          {t.text(enabled ? "emailCodeSetting.turnOff" : "emailCodeSetting.turnOn")}
        </button>
      </Form>
    </section>
  );
};
