import { statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './readers.js';

/**
 * The `symsrv` command as users run it: the bundle package.json's "bin" names (scripts/bundle.mjs),
 * so the tests cover what ships. It is built by `npm run build`; a bundle older than the compiled
 * sources (a bare `tsc` after an edit) would test stale code, so that fails loudly here.
 */
export const CLI = join(repoRoot, 'dist', 'bin', 'symsrv.js');

const compiled = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const mtime = (path: string): number => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};
if (mtime(CLI) === 0 || mtime(CLI) < mtime(compiled)) {
  throw new Error(`${CLI} is missing or older than ${compiled}: run \`npm run build\` (tsc, then the bundle)`);
}
