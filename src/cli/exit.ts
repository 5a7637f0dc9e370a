/**
 * Exit codes of the `symsrv` command (documented in the README):
 *   0  everything asked for was done (every key found)
 *   1  some keys were missing or failed to download
 *   2  usage error, or an input file/folder that cannot be read or parsed
 *   3  an internal error (a bug in symsrv: please report it)
 *   130 interrupted (Ctrl-C): the rows of the keys already done are printed
 */
export const EXIT_OK = 0;
export const EXIT_INCOMPLETE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;
export const EXIT_INTERRUPTED = 130;

/** Thrown by a command to end with a given code after it has printed what it had to say. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}
