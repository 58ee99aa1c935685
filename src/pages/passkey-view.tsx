import type { FC, PropsWithChildren } from "hono/jsx";
import type { PasskeyView } from "../accounts/passkeys";
import { CSRF_FIELD, type FormName } from "./csrf";
import { ProofField, type ProofKind } from "./fresh-proof";
import { ErrorSummary, Field, Form, Hidden, whenText, type Frame, type FormState } from "./kit";
import { EmailCodeField } from "./security-view";
import { SectionNotice } from "./account-notices";

/**
 * The passkey parts of the hosted pages. A passkey needs the browser's WebAuthn API, so its buttons
 * need script: each is a form the page draws `hidden`, which {@link PASSKEY_SCRIPT} shows only in a
 * browser that can make or use a passkey. The script fetches the ceremony's options, runs it, puts
 * the credential's JSON into the form's `credential` field and submits the form, so the answer (a
 * redirect, or the page with a message) is an ordinary form POST under the pages' CSRF rules.
 */

/**
 * The pages' one passkey script. `data-passkey` is `get` or `create`; `data-options` the address of
 * the options (an `/api/` one is sent `{}` as JSON, a page one the form's fields, its CSRF token
 * among them); `data-conditional` also offers the passkeys in the autofill of a
 * `autocomplete="… webauthn"` field. A ceremony the person cancels, or a failure, says
 * `data-failed` in the form's live region; the page's other forms never depend on it. A page
 * endpoint that refuses the options because of one of the form's fields says so in the page's
 * words (`{fields}`: the mailed code an enrolment needs after an administrator's reset); those are
 * shown beside their fields as the server would draw them (kit.tsx `Field`), the first focused.
 */
export const PASSKEY_SCRIPT = `(() => {
  const PKC = window.PublicKeyCredential;
  if (!PKC || !PKC.parseRequestOptionsFromJSON || !PKC.parseCreationOptionsFromJSON || !navigator.credentials) return;
  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const said = form.querySelector("[data-passkey-status]");
    let conditional = null;
    const options = async () => {
      const url = form.dataset.options;
      const init = url.startsWith("/api/")
        ? { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }
        : { method: "POST", body: new URLSearchParams(new FormData(form)) };
      const res = await fetch(url, { ...init, credentials: "same-origin" });
      if (!res.ok) {
        const refusal = new Error("options " + res.status);
        refusal.words = await res.json().catch(() => ({}));
        throw refusal;
      }
      return res.json();
    };
    const fieldError = (name, message) => {
      const input = form.elements[name];
      if (!input || !input.id) return false;
      let error = document.getElementById(input.id + "-error");
      if (!error) {
        error = document.createElement("span");
        error.className = "field-error";
        error.id = input.id + "-error";
        input.before(error);
        input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + error.id).trim());
      }
      error.textContent = message;
      input.setAttribute("aria-invalid", "true");
      return true;
    };
    const ceremony = async (mediation) => {
      const json = await options();
      let credential;
      if (form.dataset.passkey === "create") {
        credential = await navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(json) });
      } else {
        // One request at a time: a click ends the autofill's pending one.
        if (conditional) conditional.abort();
        const controller = new AbortController();
        if (mediation) conditional = controller;
        const request = { publicKey: PKC.parseRequestOptionsFromJSON(json), signal: controller.signal };
        if (mediation) request.mediation = mediation;
        credential = await navigator.credentials.get(request);
      }
      if (!credential) return;
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      form.submit();
    };
    const failed = (error) => {
      if (error && error.name === "AbortError") return;
      const words = (error && error.words && error.words.fields) || {};
      const fields = Object.entries(words).filter(([name, message]) => fieldError(name, message));
      if (fields.length > 0) form.elements[fields[0][0]].focus();
      else if (said) said.textContent = form.dataset.failed;
    };
    form.addEventListener("submit", (event) => {
      if (form.elements.credential.value) return;
      event.preventDefault();
      if (said) said.textContent = "";
      for (const error of form.querySelectorAll(".field-error")) error.textContent = "";
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
      ceremony(undefined).catch(failed);
    });
    form.hidden = false;
    if ("conditional" in form.dataset && PKC.isConditionalMediationAvailable) {
      // In the background: the page says nothing if the autofill cannot start (the button still can).
      PKC.isConditionalMediationAvailable().then((yes) => (yes ? ceremony("conditional") : undefined)).catch(() => undefined);
    }
  }
})();`;

/** A passkey form (see {@link PASSKEY_SCRIPT}): hidden until the script finds WebAuthn. */
export const PasskeyForm: FC<
  PropsWithChildren<{
    frame: Frame;
    name: FormName;
    action: string;
    ceremony: "get" | "create";
    options: string;
    failed: string;
    conditional?: boolean;
    returnTo?: string | null;
    label?: string;
  }>
> = (p) => (
  <form
    method="post"
    action={p.action}
    novalidate
    hidden
    aria-label={p.label}
    data-passkey={p.ceremony}
    data-options={p.options}
    data-failed={p.failed}
    data-conditional={p.conditional ? "" : undefined}
  >
    <input type="hidden" name={CSRF_FIELD} value={p.frame.tokens[p.name]} />
    <input type="hidden" name="credential" value="" />
    <Hidden name="return_to" value={p.returnTo} />
    {p.children}
    <p class="muted" aria-live="polite" data-passkey-status />
  </form>
);

/**
 * The account page's passkeys: the list (rename, remove), and adding one. After an administrator
 * reset the factors (`emailCodeRequired`), adding one also takes the mailed code: the script sends
 * it with the form's fields to the options, which is where the service asks for it.
 */
export const PasskeySection: FC<{
  frame: Frame;
  passkeys: PasskeyView[];
  proof: ProofKind | null;
  emailCodeRequired: boolean;
  stateOf: (form: FormName) => FormState | undefined;
}> = ({ frame, passkeys, proof, emailCodeRequired, stateOf }) => {
  const { t } = frame;
  const proofError = (form: FormName) => stateOf(form)?.fields?.proof_code ?? stateOf(form)?.fields?.current_password;
  return (
    <section id="passkeys" aria-labelledby="passkeys-h">
      <h2 id="passkeys-h">{t.text("passkeys.title")}</h2>
      <SectionNotice frame={frame} section="passkeys" />
      {(["passkey_add", "passkey_prove", "passkey_rename", "passkey_remove"] as const).map((form) => (
        <ErrorSummary t={t} state={stateOf(form)} form={form} />
      ))}
      <p>{t.text("passkeys.intro")}</p>
      {passkeys.length === 0 ? <p>{t.text("passkeys.none")}</p> : null}
      <ul class="passkeys">
        {passkeys.map((passkey) => (
          <li>
            <strong>{passkey.name}</strong>
            <br />
            <span class="muted">
              {t.text("passkeys.added", { date: whenText(t, passkey.created_at) })} ·{" "}
              {passkey.last_used_at
                ? t.text("passkeys.lastUsed", { date: whenText(t, passkey.last_used_at) })
                : t.text("passkeys.neverUsed")}{" "}
              · {t.text(passkey.backed_up ? "passkeys.synced" : "passkeys.deviceBound")}
            </span>
            <Form frame={frame} name="passkey_rename" action="/account/passkeys/rename" label={t.text("passkeys.rename")}>
              <input type="hidden" name="id" value={passkey.id} />
              <Field
                form={`passkey_rename_${passkey.id}`}
                name="name"
                label={t.text("fields.passkey_name.label")}
                value={passkey.name}
                required
                maxlength={100}
              />
              <button type="submit" class="secondary">
                {t.text("passkeys.rename")}
              </button>
            </Form>
            <Form frame={frame} name="passkey_remove" action="/account/passkeys/remove" label={t.text("passkeys.remove")}>
              <input type="hidden" name="id" value={passkey.id} />
              <ProofField frame={frame} form={`passkey_remove_${passkey.id}`} kind={proof} error={proofError("passkey_remove")} />
              <button type="submit" class="danger">
                {t.text("passkeys.remove")}
              </button>
            </Form>
          </li>
        ))}
      </ul>
      {proof === null ? (
        <PasskeyForm
          frame={frame}
          name="passkey_add"
          action="/account/passkeys"
          ceremony="create"
          options="/account/passkeys/options"
          failed={t.text("passkeys.addFailed")}
          label={t.text("passkeys.add")}
        >
          <Field
            form="passkey_add"
            name="name"
            label={t.text("fields.passkey_name.label")}
            hint={t.text("fields.passkey_name.hint")}
            error={stateOf("passkey_add")?.fields?.name}
            maxlength={100}
          />
          {emailCodeRequired ? (
            <EmailCodeField frame={frame} form="passkey_add" error={stateOf("passkey_add")?.fields?.email_code} />
          ) : null}
          <button type="submit">{t.text("passkeys.add")}</button>
        </PasskeyForm>
      ) : (
        <Form frame={frame} name="passkey_prove" action="/account/passkeys/prove" label={t.text("passkeys.prove")}>
          <p class="muted">{t.text("passkeys.proveFirst")}</p>
          <ProofField frame={frame} form="passkey_prove" kind={proof} error={proofError("passkey_prove")} />
          <button type="submit" class="secondary">
            {t.text("passkeys.prove")}
          </button>
        </Form>
      )}
      <noscript>
        <p class="muted">{t.text("passkeys.needsScript")}</p>
      </noscript>
    </section>
  );
};
