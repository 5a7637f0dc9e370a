import { parseSymbolPath } from '../../symbolpath/parse.js';
import { symbolPathFromEnv, symfixPath } from '../../symbolpath/defaults.js';
import { explainSymbolPath, formatExplanation } from '../../symbolpath/explain.js';
import { out, printJson } from '../output.js';

/** `symsrv path [SYMPATH] [--json]`: the symbol path, element by element. */
export async function run(sympath: string | undefined, opts: { json?: boolean }): Promise<void> {
  const fromEnv = symbolPathFromEnv();
  const source = sympath !== undefined ? 'argument' : fromEnv !== undefined ? 'environment' : 'default (.symfix)';
  const text = sympath ?? fromEnv ?? symfixPath();
  const explained = explainSymbolPath(parseSymbolPath(text));
  if (opts.json) {
    printJson({ symbolPath: text, source, elements: explained });
    return;
  }
  out(`symbol path (${source}): ${text}`);
  out(formatExplanation(explained));
}
