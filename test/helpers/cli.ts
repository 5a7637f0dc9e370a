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

/**
 * The environment for running `symsrv` in a test: this process's, less everything that would
 * choose a proxy or credentials behind the test's back (the proxy variables in both cases, SymSrv's
 * own, the credential variables, the desktop that would point to its proxy settings), plus `extra`.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy', '_NT_SYMBOL_PROXY', 'SYMSRV_PROXY_USER', 'SYMSRV_PROXY_PASSWORD', 'XDG_CURRENT_DESKTOP']) {
    delete env[name];
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}
