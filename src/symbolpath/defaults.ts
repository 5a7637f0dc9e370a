import path from 'node:path';
import envPaths from 'env-paths';

/**
 * Defaults that SymSrv and the Windows debuggers take from their environment, and the same
 * choices for a cross-platform tool. Sources and reasons: docs/symbolpath.md, "Defaults".
 */

/** The Microsoft public symbol server, as `.symfix` writes it (".symfix (Set Symbol Store Path)"). */
export const MICROSOFT_SYMBOL_SERVER = 'https://msdl.microsoft.com/download/symbols';

/** The subfolder of the home directory that holds the default downstream store ("Advanced SymSrv Use"). */
const SYM = 'sym';

/**
 * The default downstream store: where `srv**url`, `cache*` and a lone HTTP store put files.
 *
 * - `DBGHELP_HOMEDIR` set: `%DBGHELP_HOMEDIR%\sym`, as SymSrv does ("Advanced SymSrv Use":
 *   the default downstream store is "located in the sym subdirectory of the home directory",
 *   which `DBGHELP_HOMEDIR` sets). Setting it shares one cache with WinDbg, cdb and kd.
 * - otherwise: `sym` under the user's cache folder (env-paths, no suffix):
 *   `~/.cache/symsrv/sym` (or `$XDG_CACHE_HOME/symsrv/sym`), `~/Library/Caches/symsrv/sym`,
 *   `%LOCALAPPDATA%\symsrv\Cache\sym`. SymSrv's own fallback is `sym` below the program's
 *   directory ("Using SymSrv"), which for us would be Node's install folder: usually not
 *   writable, and shared by every Node program, so we do not copy it.
 *
 * Only `DBGHELP_HOMEDIR` is read from `env`; the cache folder comes from env-paths, which reads
 * `process.env` and the home directory itself.
 */
export function defaultDownstreamStore(env: NodeJS.ProcessEnv = process.env): string {
  const home = homeDir(env);
  if (home !== undefined) return path.join(home, SYM);
  return path.join(envPaths('symsrv', { suffix: '' }).cache, SYM);
}

/**
 * `DBGHELP_HOMEDIR`, trimmed; undefined when unset or blank. "General Environment Variables"
 * describes the value like a path list ("separate multiple directories with semicolons"); a
 * home directory is one folder, so the first non-empty entry is used: a `;` inside a store
 * would also split the symbol path that names it.
 */
function homeDir(env: NodeJS.ProcessEnv): string | undefined {
  const value = env['DBGHELP_HOMEDIR'];
  if (value === undefined) return undefined;
  return value
    .split(';')
    .map((s) => s.trim())
    .find((s) => s !== '');
}

/**
 * The symbol path `.symfix [LocalSymbolCache]` stands for: the Microsoft public symbol server
 * behind `cache`, or behind the default downstream store when no cache is given (.symfix: "If
 * LocalSymbolCache is omitted, the sym subdirectory of the debugger installation directory will
 * be used", our equivalent being {@link defaultDownstreamStore}).
 *
 * The debugger prints its expansion as `cache*C:\myCache;SRV*https://...`; for a path used on its
 * own, `srv*C:\myCache*https://...` looks in and fills the same folder, and does not also cache
 * elements that are appended later (which `.symfix+` then `.sympath+` would).
 */
export function symfixPath(cache?: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = cache === undefined || cache.trim() === '' ? defaultDownstreamStore(env) : cache.trim();
  return `srv*${dir}*${MICROSOFT_SYMBOL_SERVER}`;
}

/**
 * The symbol path the environment sets, or undefined when neither variable holds one.
 *
 * `_NT_ALT_SYMBOL_PATH` comes first, then `_NT_SYMBOL_PATH`, as the Windows debuggers do:
 * "Symbol path for Windows debuggers" (Controlling the symbol path) says the path "is created by
 * appending _NT_SYMBOL_PATH after _NT_ALT_SYMBOL_PATH", and "General Environment Variables" calls
 * _NT_ALT_SYMBOL_PATH an alternate path "searched before _NT_SYMBOL_PATH", for private versions of
 * symbol files. (DbgHelp's `SymInitialize(NULL)` documents the opposite order, and "Symbol Paths"
 * lists _NT_SYMBOL_PATH first; we follow the debuggers because overriding is the variable's stated
 * purpose. docs/symbolpath.md records the conflict.)
 */
export function symbolPathFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const parts = [env['_NT_ALT_SYMBOL_PATH'], env['_NT_SYMBOL_PATH']]
    .map((v) => trimSemicolons(v ?? ''))
    .filter((v) => v !== '');
  return parts.length === 0 ? undefined : parts.join(';');
}

/** Where a session's symbol path came from (`symsrv path` and the shell's `.sympath` say so). */
export type SymbolPathSource = 'argument' | 'environment' | 'default (.symfix)';

/** The symbol path to use: the one given, else the environment's, else the `.symfix` default. */
export function resolveSymbolPath(given: string | undefined, env: NodeJS.ProcessEnv = process.env): { text: string; source: SymbolPathSource } {
  if (given !== undefined) return { text: given, source: 'argument' };
  const fromEnv = symbolPathFromEnv(env);
  if (fromEnv !== undefined) return { text: fromEnv, source: 'environment' };
  return { text: symfixPath(undefined, env), source: 'default (.symfix)' };
}

function trimSemicolons(value: string): string {
  return value.trim().replace(/^[;\s]+|[;\s]+$/g, '');
}
