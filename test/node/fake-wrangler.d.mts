// Types for fake-wrangler.mjs, for the TypeScript tests.

export interface FakeWrangler {
  /** Path of the wrangler.toml in the fake's directory. */
  config: string;
  run(script: string, args: string[], extraEnv?: Record<string, string>): { status: number | null; stdout: string; stderr: string };
  runAsync(
    script: string,
    args: string[],
    extraEnv?: Record<string, string>,
  ): Promise<{ status: number | null; stdout: string; stderr: string }>;
  calls(): string[][];
  readConfig(): string;
  remove(): void;
}

export function fakeWrangler(answers: { command: string; stdout?: string; stderr?: string; status?: number }[], toml: string): FakeWrangler;

export function projectToml(): string;
