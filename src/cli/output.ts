import { escapeOutput } from '../escape.js';
import { SymsrvError } from '../errors.js';

// The output boundary: every line the CLI writes may quote outside text (server answers, PAC
// results, names from files), so control characters are escaped here (escape.ts).

/**
 * The library names its options (issue 14: CLI flag names stay out of library messages); the
 * CLI says the flag that sets each one.
 */
const FLAGS: ReadonlyArray<[RegExp, string]> = [
  [/\bthe ca option\b/g, '--cacert'],
  [/\bthe pac option\b/g, '--pac'],
  [/\bproxy option 'direct'/g, '--no-proxy'],
  [/\bthe proxyUser option with the password in SYMSRV_PROXY_PASSWORD \(or proxyCredentials\)/g, '--proxy-user USER and the password in SYMSRV_PROXY_PASSWORD'],
];

/** A library message in the CLI's words: option names become the flags that set them. */
export function inCliWords(text: string): string {
  return FLAGS.reduce((t, [option, flag]) => t.replace(option, flag), text);
}

/** Writes a line to stdout (results) — never progress or diagnostics. */
export function out(line: string): void {
  process.stdout.write(escapeOutput(inCliWords(line)) + '\n');
}

/** Writes a diagnostic line to stderr, prefixed with the program name. */
export function warn(message: string): void {
  process.stderr.write(`symsrv: ${escapeOutput(inCliWords(message))}\n`);
}

/** A one-line explanation of an error for users: the message, never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof SymsrvError) return inCliWords(err.message);
  if (err instanceof Error) return err.message;
  return String(err);
}

export function printJson(value: unknown): void {
  // JSON.stringify escapes C0 controls but writes C1 (U+0080-U+009F) raw: those as \u00XX too.
  process.stdout.write(JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n');
}
