import { escapeControls } from '../escape.js';
import { SymsrvError } from '../errors.js';

// The output boundary: every line the CLI writes may quote outside text (server answers, PAC
// results, names from files), so control characters are escaped here (escape.ts).

/** Writes a line to stdout (results) — never progress or diagnostics. */
export function out(line: string): void {
  process.stdout.write(escapeControls(line) + '\n');
}

/** Writes a diagnostic line to stderr, prefixed with the program name. */
export function warn(message: string): void {
  process.stderr.write(`symsrv: ${escapeControls(message)}\n`);
}

/** A one-line explanation of an error for users: the message, never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof SymsrvError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function printJson(value: unknown): void {
  // JSON.stringify escapes C0 controls but writes C1 (U+0080-U+009F) raw: those as \u00XX too.
  process.stdout.write(JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n');
}
