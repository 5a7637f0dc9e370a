import { SymsrvError } from '../errors.js';

/** Writes a line to stdout (results) — never progress or diagnostics. */
export function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** Writes a diagnostic line to stderr, prefixed with the program name. */
export function warn(message: string): void {
  process.stderr.write(`symsrv: ${message}\n`);
}

/** A one-line explanation of an error for users: the message, never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof SymsrvError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
