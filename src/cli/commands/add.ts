import { addToStore } from '../../store/write/add.js';
import { EXIT_INCOMPLETE, EXIT_USAGE, ExitError } from '../exit.js';
import { describeError, out, printJson, warn } from '../output.js';
import { keysOfTargets } from '../targets.js';

export interface AddCliOptions {
  store: string;
  recursive?: boolean;
  compress?: boolean;
  pointer?: boolean;
  product?: string;
  version?: string;
  comment?: string;
  json?: boolean;
}

/**
 * `symsrv add --store DIR FILES...` (symstore add /f FILES /s DIR /t PRODUCT ...): every file's
 * keys are computed before anything is written, so a file named on the command line that cannot
 * be read or parsed stops the run with nothing added (exit 2); inside folders, files of other
 * formats are passed over and broken ones reported.
 */
export async function run(files: string[], opts: AddCliOptions): Promise<void> {
  if (opts.compress && opts.pointer) throw new ExitError(EXIT_USAGE, '--compress and --pointer exclude each other (a pointer stores no file)');
  const { keys, skipped } = await keysOfTargets(files, { recursive: Boolean(opts.recursive), select: (kind) => kind !== 'pdbref' });
  for (const s of skipped) warn(`skipped ${s.file}: ${s.reason}`);
  const dump = keys.find((k) => k.module !== undefined);
  if (dump) throw new ExitError(EXIT_USAGE, `${dump.file} is a crash dump: symsrv add stores binaries and symbol files (fetch the dump's symbols with symsrv fetch)`);
  if (keys.length === 0) {
    warn('no symbol files to add');
    throw new ExitError(skipped.length > 0 ? EXIT_INCOMPLETE : EXIT_USAGE);
  }
  const result = await addToStore(opts.store, keys, {
    compress: Boolean(opts.compress),
    pointer: Boolean(opts.pointer),
    ...(opts.product !== undefined ? { product: opts.product } : {}),
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
  });
  if (opts.json) {
    printJson({
      transaction: result.stored.length > 0 ? result.id : null,
      stored: result.stored,
      failed: result.failed.map((f) => ({ file: f.file, key: f.key, error: describeError(f.error) })),
      skipped,
    });
  } else {
    for (const s of result.stored) out(`stored ${s.key} ${s.path}${s.note ? ` (${s.note})` : ''}`);
    for (const f of result.failed) out(`error ${f.key} ${describeError(f.error)}`);
    if (result.stored.length > 0) out(`transaction ${result.id}: ${result.stored.length} file(s) added to ${opts.store}`);
  }
  if (result.failed.length > 0 || skipped.length > 0) throw new ExitError(EXIT_INCOMPLETE);
}
