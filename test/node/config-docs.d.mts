// Types for config-docs.mjs.

export const CONFIG_DOC: string;
export const START: string;
export const END: string;
export function configBlock(): string | null;
export function writeConfigBlock(block: string): void;
export const updating: boolean;
