// Types for tutorial-blocks.mjs, for the TypeScript tests.
export function tutorialTerminals(markdown: string): string[][];
export function readmeTerminals(path?: string): string[][];
