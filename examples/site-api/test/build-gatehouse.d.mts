// Types for build-gatehouse.mjs (vitest.config.ts imports its module list).

export const GATEHOUSE_MODULES: { type: "ESModule" | "CompiledWasm"; path: string }[];
export default function buildGatehouse(): void;
