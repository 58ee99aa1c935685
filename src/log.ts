/**
 * Structured, single-line JSON logs. JSON.stringify escapes CR/LF, so user-controlled values
 * (emails, user agents) cannot forge extra log lines; U+2028/U+2029, which JSON leaves raw but
 * some log viewers treat as line breaks, are escaped too. Never pass secrets (passwords, tokens, keys).
 */
type Level = "debug" | "info" | "warn" | "error";

/** One log line: JSON with every line terminator escaped. Exported for tests. */
export function formatLogLine(level: Level, event: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ level, event, time: new Date().toISOString(), ...fields })
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function log(level: Level, event: string, fields: Record<string, unknown> = {}): void {
  const line = formatLogLine(level, event, fields);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * A loggable description of an unexpected error. Drizzle puts bound parameters (hashes, emails)
 * into its messages, so only the error names, the SQL text and the driver's message are kept.
 */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: typeof error };
  const out: Record<string, unknown> = { error: error.name };
  if ("query" in error && typeof error.query === "string") out.query = error.query;
  else out.message = error.message.slice(0, 300);
  if (error.cause instanceof Error) out.cause = `${error.cause.name}: ${error.cause.message.slice(0, 300)}`;
  // Only the frames: a stack starts with the message, which for Drizzle holds the parameters.
  const frames = error.stack?.split("\n").filter((line) => /^\s+at\s/.test(line));
  if (frames?.length) out.stack = frames.slice(0, 5).join("\n");
  return out;
}
