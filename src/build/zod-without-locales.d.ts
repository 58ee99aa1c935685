// The alias is zod's own API minus a few members (see zod-without-locales.js and its test), so its
// types are zod's.
export * from "zod";
export { default } from "zod";
