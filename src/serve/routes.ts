import { checkComponent, elfDebugKey, elfKey, parseKey, type SymbolKey } from '../keys/key.js';
import { SymsrvError } from '../errors.js';
import { POINTER_FILE, compressedName } from '../store/layout.js';

/**
 * What a request path asks `symsrv serve` for. Pure: no file or network is touched, and every
 * path component is checked before a key (and so a path) is built from it.
 *
 *   /healthz, /metrics
 *   /buildid/HEX/debuginfo | executable     the debuginfod webapi (gdb, debuginfod-find)
 *   [/prefix...]/name/ID/name               SymSrv and SSQP keys (WinDbg, VS, dotnet-symbol)
 *   [/prefix...]/name/ID/name.pd_ | file.ptr   SymSrv's other probes: we expand and follow
 *                                           upstream ourselves, so these are always 404
 */
export type Route =
  | { kind: 'health' }
  | { kind: 'metrics' }
  | { kind: 'key'; key: SymbolKey }
  | { kind: 'not-here'; reason: string }
  | { kind: 'bad'; reason: string };

/** Longest request path taken: a key is three names of at most 255 bytes, plus a prefix. */
const MAX_PATH = 4096;

export function route(rawPath: string): Route {
  if (rawPath.length > MAX_PATH) return { kind: 'bad', reason: 'path too long' };
  const path = rawPath.split('?')[0]!;
  if (path === '/healthz') return { kind: 'health' };
  if (path === '/metrics') return { kind: 'metrics' };
  if (!path.startsWith('/')) return { kind: 'bad', reason: 'not an absolute path' };
  // Traversal is refused on the raw text before anything is decoded or built: a backslash, NUL,
  // or a `.`/`..` component, spelled plainly or percent-encoded (%2e%2e, %2f, %5c, %00).
  const parts = path.slice(1).split('/');
  const names: string[] = [];
  for (const raw of parts) {
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      return { kind: 'bad', reason: 'malformed percent-encoding' };
    }
    if (name === '' || name === '.' || name === '..' || /[\/\\\0]/.test(name) || /[\u0000-\u001f\u007f]/.test(name)) {
      return { kind: 'bad', reason: 'a path component is empty, a dot name, or holds a separator or control character' };
    }
    names.push(name);
  }
  try {
    if (names.length === 3 && names[0] === 'buildid') return debuginfod(names[1]!, names[2]!);
    if (names.length < 3) return { kind: 'not-here', reason: 'not a key (name/ID/name)' };
    const [name, id, file] = names.slice(-3) as [string, string, string];
    checkComponent(name, path);
    checkComponent(id, path);
    if (file === POINTER_FILE || (file.toLowerCase() === compressedName(name).toLowerCase() && file.toLowerCase() !== name.toLowerCase())) {
      return { kind: 'not-here', reason: `${file}: this server expands cabinets and follows pointers itself` };
    }
    return { kind: 'key', key: parseKey(`${name}/${id}/${file}`) };
  } catch (err) {
    if (err instanceof SymsrvError) return { kind: 'bad', reason: err.message };
    throw err;
  }
}

function debuginfod(buildId: string, artifact: string): Route {
  if (!/^[0-9a-fA-F]{2,128}$/.test(buildId) || buildId.length % 2 !== 0) return { kind: 'bad', reason: 'a build-id is an even number of hex digits' };
  if (artifact === 'debuginfo') return { kind: 'key', key: elfDebugKey(buildId.toLowerCase()) };
  // The executable's file name is not in the request; the SSQP key names it by build-id alone.
  if (artifact === 'executable') return { kind: 'key', key: elfKey('executable', buildId.toLowerCase()) };
  return { kind: 'not-here', reason: `/buildid/ID/${artifact}: only debuginfo and executable are served` };
}
