import { SymsrvError } from '../../errors.js';
import { computeKeys } from '../../keys/compute.js';
import { printable } from '../../keys/key.js';
import { EXIT_USAGE, ExitError } from '../exit.js';
import { escapeControls } from '../../escape.js';
import { describeError, out, printJson, warn } from '../output.js';

/**
 * `symsrv key [--json] FILE...`: one line per key, `FILE<TAB>KIND<TAB>KEY`. A crash dump gives the
 * keys of all its modules (the JSON rows then name the module, as the dump recorded its path).
 */
export async function run(files: string[], opts: { json?: boolean }): Promise<void> {
  const rows: { file: string; kind: string; key: string; module?: string }[] = [];
  let failed = 0;
  for (const file of files) {
    try {
      for (const k of await computeKeys(file)) {
        const row = { file, kind: k.kind, key: k.key.index, ...(k.module !== undefined ? { module: printable(k.module) } : {}) };
        rows.push(row);
        // A name from a CodeView record is file content: no control character reaches the terminal.
        if (!opts.json) out(`${escapeControls(row.file)}\t${row.kind}\t${escapeControls(row.key)}`);
      }
    } catch (err) {
      if (!(err instanceof SymsrvError)) throw err;
      failed++;
      warn(describeError(err));
    }
  }
  if (opts.json) printJson(rows);
  if (failed > 0) throw new ExitError(EXIT_USAGE);
}
