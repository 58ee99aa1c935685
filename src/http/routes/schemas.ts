import { z } from "zod";

/**
 * Field rules shared by the routes (the seed design's input rules). Values are normalised here,
 * once: emails trimmed, NFC-normalised and lower-cased; names trimmed. Passwords are never
 * trimmed or normalised, only bounded so oversized input is refused before any hashing.
 */
/** Control characters, zero-width and bidi-override characters, line/paragraph separators, markup. */
const CONTROL_OR_MARKUP = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff<>]/;

export const RESERVED_USERNAMES: ReadonlySet<string> = new Set(
  `admin administrator root system sysadmin superuser su api support help security gatehouse me self
  null undefined staff moderator mod owner webmaster postmaster hostmaster info mail email noreply
  no-reply abuse billing www auth oauth login logout register signup signin settings account accounts
  user users official team dev developer test`.split(/\s+/),
);

export const emailField = z
  .string()
  .trim()
  .max(254, "Use at most 254 characters.")
  .normalize("NFC")
  .toLowerCase()
  .pipe(z.email("Enter a valid email address."));

export const usernameField = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{3,50}$/, "Use 3 to 50 letters, digits, '_' or '-'.")
  .refine((v) => !RESERVED_USERNAMES.has(v.toLowerCase()), "This username is reserved.");

export const fullNameField = z
  .string()
  .trim()
  .min(1, "Enter your name.")
  .max(255, "Use at most 255 characters.")
  .refine((v) => !CONTROL_OR_MARKUP.test(v), "Control characters and '<' or '>' are not allowed.");

/** Long enough for any policy-conforming password; anything longer is refused unhashed. */
export const passwordField = z.string().min(1, "Enter a password.").max(512, "The password is too long.");

export const registerBody = z.object({
  email: emailField,
  password: passwordField,
  full_name: fullNameField,
  username: usernameField.optional().nullable(),
});

export const loginBody = z
  .object({
    email: emailField.optional(),
    username: z.string().trim().min(1).max(50).optional(),
    password: passwordField,
  })
  .refine((b) => (b.email === undefined) !== (b.username === undefined), {
    message: "Send either email or username.",
    path: ["email"],
  });

export const updateProfileBody = z.object({
  full_name: fullNameField.optional(),
  username: usernameField.nullable().optional(),
});

export const refreshBody = z.object({ refresh_token: z.string().min(1).max(256) });

export const logoutBody = z.object({ refresh_token: z.string().min(1).max(256).optional() });

export const tokenBody = z.object({ token: z.string().min(1).max(256) });

export const logoutQuery = z.object({ scope: z.enum(["all", "session"]).optional() });

export const changePasswordBody = z.object({ current_password: passwordField, new_password: passwordField });

export const deleteAccountBody = z.object({ password: passwordField });

export const sessionIdParam = z.object({ id: z.string().min(1).max(64) });
/** forgot-password and resend-verification. */
export const emailBody = z.object({ email: emailField });

export const resetPasswordBody = z.object({ token: z.string().min(1).max(256), new_password: passwordField });

export const changeEmailBody = z.object({ new_email: emailField, password: passwordField });
