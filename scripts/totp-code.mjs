#!/usr/bin/env node
// `npm run totp -- <base32 secret>`: the current 6-digit code, as an authenticator app would show it,
// for signing in locally as the account `npm run seed` gave two-step verification.
import { totpCode } from "./totp.mjs";

const [secret] = process.argv.slice(2);
if (!secret) {
  console.error("Usage: npm run totp -- <base32 secret>   (npm run seed prints one)");
  process.exit(2);
}
try {
  const left = 30 - (Math.floor(Date.now() / 1000) % 30);
  console.log(`${totpCode(secret)}   (valid for ${left} s more)`);
} catch (error) {
  console.error(`Not a base32 secret: ${/** @type {Error} */ (error).message}`);
  process.exit(2);
}
