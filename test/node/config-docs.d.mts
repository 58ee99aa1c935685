// Types for config-docs.mjs.

export const START: string;
export const END: string;
export function readmeConfigBlock(): string | null;
export function writeReadmeConfigBlock(block: string): void;
export const updating: boolean;
