import { z } from "zod";
import { defineSection, flag } from "./define";

/**
 * Password hashing and policy: PBKDF2_ITERATIONS, PASSWORD_PEPPER,
 * PASSWORD_REQUIRE_CHARACTER_CLASSES and PASSWORD_MIN_LENGTH.
 */

/** The fewest characters unless `PASSWORD_MIN_LENGTH` says otherwise; the policy falls back to it too. */
export const PASSWORD_MIN_LENGTH_DEFAULT = 8;

/** Production workerd refuses PBKDF2 above 100,000 iterations, so the cap is enforced here. */
export const PBKDF2_MAX_ITERATIONS = 100_000;

/** The passwords section: hashing cost, pepper and the new-password policy. */
export const passwords = defineSection({
  variables: {
    PBKDF2_ITERATIONS: {
      kind: "var",
      schema: z.coerce.number().int().min(10_000).max(PBKDF2_MAX_ITERATIONS).default(PBKDF2_MAX_ITERATIONS),
      doc: '10,000–100,000 (Workers refuse more); changing it rehashes at each user\'s next login; 100,000 is about 18 ms of CPU per login: Workers Paid (see "Deploying")',
    },
    PASSWORD_PEPPER: {
      kind: "secret",
      schema: z.string().optional(),
      doc: "HMAC key applied before PBKDF2; never change or remove it once set (peppered users could not log in until they reset)",
    },
    PASSWORD_REQUIRE_CHARACTER_CLASSES: {
      kind: "var",
      schema: flag,
      doc: "also require three of lower, upper, digit, symbol",
    },
    PASSWORD_MIN_LENGTH: {
      kind: "var",
      // NIST SP 800-63B-4 asks for 15 where the password is the only factor; 64 keeps room below the 128 maximum.
      schema: z.coerce.number().int().min(8).max(64).default(PASSWORD_MIN_LENGTH_DEFAULT),
      doc: 'fewest characters of a new password, 8–64 (the most stays 128); consider `15` without MFA (see "Security model")',
    },
  },
  read: (v) => ({
    pbkdf2Iterations: v.PBKDF2_ITERATIONS,
    pepper: v.PASSWORD_PEPPER,
    requireCharacterClasses: v.PASSWORD_REQUIRE_CHARACTER_CLASSES,
    /** Fewest characters (code points) a new password may have; the most stays 128. */
    passwordMinLength: v.PASSWORD_MIN_LENGTH,
  }),
});
