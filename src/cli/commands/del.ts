import { deleteTransaction } from '../../store/write/del.js';
import { out, printJson } from '../output.js';

/** `symsrv del ID --store DIR` (symstore del /i ID /s DIR). */
export async function run(id: string, opts: { store: string; json?: boolean }): Promise<void> {
  const result = await deleteTransaction(opts.store, id);
  if (opts.json) {
    printJson(result);
    return;
  }
  for (const path of result.removed) out(`removed ${path}`);
  out(`transaction ${result.id}: deleted transaction ${result.deleted} from ${opts.store} (${result.removed.length} removed, ${result.kept.length} folder(s) kept for other transactions)`);
}
