import type { AuditAction } from "../audit/audit";
import type { PlainKey, Translator } from "../i18n";

/**
 * What the security log calls each kind of event, in the page's language: `login.new_device` is
 * the catalogue's `events.login_new_device` ("Signed in from a new device"). People read labels,
 * never codes; the administration console shows the code beside its label.
 */

/** `login.new_device` → `login_new_device`: a catalogue key part has no dots. */
type Underscored<S extends string> = S extends `${infer Head}.${infer Tail}` ? `${Head}_${Underscored<Tail>}` : S;

/** The catalogue key of an audit action's label. */
type LabelKey<A extends string> = `events.${Underscored<A>}`;

/**
 * The audit actions whose label the English source (src/i18n/en.ts) lacks: `never`, or
 * `npm run typecheck` fails (test/security-event-labels.test-d.ts), naming them; at run time
 * test/security-event-labels.test.ts checks every shipped language.
 */
export type UnlabelledActions = { [A in AuditAction]: LabelKey<A> extends PlainKey ? never : A }[AuditAction];

/** The catalogue key of `action`'s label (whether or not the catalogue has it). */
export function eventLabelKey(action: string): string {
  return `events.${action.replaceAll(".", "_")}`;
}

/**
 * A security log entry's label in the page's language. An action this worker does not know (a
 * row written by a newer version) gets the generic "Security event", never its code.
 */
export function eventLabel(t: Translator, action: string): string {
  return t.maybe(eventLabelKey(action)) ?? t.text("events.unknown");
}
