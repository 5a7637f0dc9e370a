import { SymsrvError } from '../errors.js';
import { userinfoRanges } from '../redact.js';
import { defaultDownstreamStore, MICROSOFT_SYMBOL_SERVER } from './defaults.js';

/**
 * The `_NT_SYMBOL_PATH` grammar, as Microsoft documents it. Rules, worked examples and the
 * sources (with the section each rule comes from) are in docs/symbolpath.md; the comments
 * below name the doc a non-obvious rule comes from:
 *
 * - [ASU]  "Advanced SymSrv Use" (Windows debugger docs)
 * - [US]   "Using SymSrv" (Win32 DbgHelp docs)
 * - [SP]   "Symbol Paths" (Win32 DbgHelp docs)
 * - [SPWD] "Symbol path for Windows debuggers"
 * - [FIX]  ".symfix (Set Symbol Store Path)"
 *
 * Parsing is pure: it never touches the file system or the network. What SymSrv decides by
 * looking at a store (`pingme.txt`, `index2.txt`, compressed files) is the store layer's job.
 */

/** One store of a chain: a folder or file share (`local`), an HTTP(S) symbol server, or a debuginfod server. */
export type StoreSpec =
  | { kind: 'local'; path: string; isDefault: boolean }
  | { kind: 'http'; url: string }
  | { kind: 'debuginfod'; url: string };

/** What the parser added to a `srv*` chain that the text does not spell out. */
export type ImpliedStore =
  /** `srv*` with no store at all: the Microsoft public symbol server, as `.symfix` writes it [FIX]. */
  | 'microsoft-symbol-server'
  /** The default downstream store, put in front of a lone HTTP store [ASU, US]. */
  | 'default-downstream'
  /** `debuginfod*` with no server: the servers of DEBUGINFOD_URLS (symsrv's extension). */
  | 'debuginfod-urls';

export type SymbolPathElement =
  /** A plain folder (or file share). `caches`: from the nearest preceding `cache*`. */
  | { type: 'folder'; text: string; path: string; caches: StoreSpec[] }
  /**
   * A symbol server chain. `stores`: downstream (nearest) first, the last one is upstream.
   * A file found in a store is copied to every store before it, and to `caches`.
   * `implied`: stores the parser added (see {@link ImpliedStore}); empty when all were written.
   */
  | { type: 'srv'; text: string; stores: StoreSpec[]; caches: StoreSpec[]; implied: ImpliedStore[] }
  /** A `cache*` element: searched itself, and the cache of every element after it. */
  | { type: 'cache'; text: string; store: StoreSpec }
  /** An element SymSrv would not use as written; the rest of the path still works. */
  | { type: 'unsupported'; text: string; reason: string };

export interface SymbolPath {
  /** The text as given. */
  text: string;
  elements: SymbolPathElement[];
}

export interface ParseOptions {
  /** The default downstream store; `defaultDownstreamStore()` when not given. */
  defaultDownstream?: string;
  /** Where `debuginfod*` alone reads DEBUGINFOD_URLS; process.env when not given. */
  env?: NodeJS.ProcessEnv;
}

/** [US] "There can be up to 10 symbol stores after the srv* prefix." */
export const MAX_STORES = 10;

const HTTP = /^https?:\/\//i;
/** [ASU] `srv` is shorthand for `symsrv*symsrv.dll`; keywords are case-insensitive (.symfix prints `SRV*`). */
const SRV = /^srv\*/i;
const SYMSRV = /^symsrv\*/i;
const CACHE = /^cache\*/i;
const DEBUGINFOD = /^debuginfod(\*|$)/i;
const SYMSRV_DLL = 'symsrv.dll';

/**
 * Parses a symbol path (`_NT_SYMBOL_PATH` syntax) into its elements.
 *
 * Never throws on input SymSrv tolerates: an element SymSrv would not use is returned as
 * `unsupported` with a reason. Throws `E_BAD_SYMBOL_PATH` only for text that cannot be a
 * symbol path at all (a NUL character: no environment variable or C string can hold one).
 */
export function parseSymbolPath(text: string, options: ParseOptions = {}): SymbolPath {
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const element = elementAround(text, nul);
    throw new SymsrvError(
      'E_BAD_SYMBOL_PATH',
      `bad symbol path element "${printable(element)}": it contains a NUL character, which no path or URL can hold`,
      { subject: printable(element) },
    );
  }
  const ctx = new Context(options);
  const elements: SymbolPathElement[] = [];
  // The cache of the nearest preceding valid cache* element; a later cache* replaces it.
  let cache: StoreSpec | undefined;
  const split = splitUserinfo(text);
  let offset = 0;
  for (const raw of text.split(';')) {
    const at = offset;
    offset += raw.length + 1;
    const item = raw.trim();
    if (item === '') continue; // empty elements are ignored (`a;;b`, a trailing `;`)
    const caches = cache === undefined ? [] : [cache];
    const cut = split.find(([start, end]) => start < at + raw.length && end > at);
    const element = cut
      ? unsupported(
          // The element as written, but with its share of the userinfo hidden.
          (text.slice(at, Math.max(at, cut[0])) + '***' + text.slice(Math.min(at + raw.length, cut[1]), at + raw.length)).trim(),
          'a URL user name or password holds `;` or `*`, which the symbol path splits at: percent-encode them (%3B, %2A)',
        )
      : parseElement(item, caches, ctx);
    elements.push(element);
    if (element.type === 'cache') cache = element.store;
  }
  return { text, elements };
}

class Context {
  private readonly given: string | undefined;
  private resolved: string | undefined;

  constructor(readonly options: ParseOptions) {
    if (options.defaultDownstream !== undefined && options.defaultDownstream.trim() === '') {
      throw new SymsrvError('E_USAGE', 'defaultDownstream must be a folder, not an empty string');
    }
    this.given = options.defaultDownstream;
  }

  /** Resolved only when an element needs it, so a path without one never reads the environment. */
  defaultStore(): StoreSpec {
    this.resolved ??= this.given ?? defaultDownstreamStore();
    return { kind: 'local', path: this.resolved, isDefault: true };
  }
}

function parseElement(item: string, caches: StoreSpec[], ctx: Context): SymbolPathElement {
  if (SRV.test(item)) {
    return parseChain(item, item.slice('srv*'.length), caches, ctx);
  }
  if (SYMSRV.test(item)) {
    // symsrv*ServerDLL*Store1*...*StoreN [ASU "Setting the Symbol Path"]
    const rest = item.slice('symsrv*'.length);
    const star = rest.indexOf('*');
    const dll = (star < 0 ? rest : rest.slice(0, star)).trim();
    if (dll === '') {
      return unsupported(item, 'symsrv* must be followed by the symbol server DLL name (symsrv*symsrv.dll*...)');
    }
    if (!isSymsrvDll(dll)) {
      return unsupported(
        item,
        `symbol server DLL "${dll}" is not SymSrv: only symsrv.dll's store syntax is understood (srv* is its shorthand)`,
      );
    }
    return parseChain(item, star < 0 ? '' : rest.slice(star + 1), caches, ctx);
  }
  if (CACHE.test(item)) {
    return parseCache(item, ctx);
  }
  if (DEBUGINFOD.test(item)) {
    return parseDebuginfod(item, item.slice('debuginfod'.length).replace(/^\*/, ''), caches, ctx);
  }
  if (HTTP.test(item)) {
    // [ASU "Working With HTTP and SMB Symbol Server Paths"]: HTTP only works behind SRV*.
    return unsupported(item, `${item} is an HTTP store: HTTP stores only work in a symbol server element, write srv*${item}`);
  }
  // A standard path element, kept as given: relative, C:\x, \\server\share, /posix/path [SP].
  return { type: 'folder', text: item, path: item, caches };
}

/** `rest` is what follows `srv*` or `symsrv*symsrv.dll*`: the `*`-separated stores. */
function parseChain(item: string, rest: string, caches: StoreSpec[], ctx: Context): SymbolPathElement {
  if (rest.trim() === '') {
    // `srv*` alone. [ASU "Cascading Downstream Stores"] reads a trailing `*` as the default downstream
    // store, which alone would have nothing upstream of it; [SPWD] says `srv*` gets symbols "from the
    // default symbol store", and [FIX] shows that store: `.symfix` sets `srv*`, which expands to
    // `SRV*https://msdl.microsoft.com/download/symbols`. That is what we implement.
    return chain(item, [{ kind: 'http', url: MICROSOFT_SYMBOL_SERVER }], caches, ['microsoft-symbol-server'], ctx);
  }
  const tokens = rest.split('*').map((t) => t.trim());
  if (tokens.length > MAX_STORES) {
    return unsupported(item, `it lists ${tokens.length} stores; SymSrv accepts at most ${MAX_STORES} after srv*`);
  }
  // [ASU "Cascading Downstream Stores"]: "An empty token ... represents the default downstream store."
  const stores = tokens.map((t): StoreSpec => (t === '' ? ctx.defaultStore() : storeOf(t)));
  for (const [i, store] of stores.entries()) {
    if (store.kind !== 'http') continue;
    if (!isUsableUrl(store.url)) {
      return unsupported(item, `store "${store.url}" is not a usable HTTP(S) URL (no host, or malformed)`);
    }
    if (i !== stores.length - 1) {
      // [US "Types of Symbol Stores"], [ASU "Working With HTTP and SMB Symbol Server Paths"]: an HTTP
      // store cannot be written to, so it must be the rightmost store; only one per chain.
      return unsupported(
        item,
        `HTTP store ${store.url} is not the last store of the chain: files found upstream could not be copied to it`,
      );
    }
  }
  return chain(item, stores, caches, [], ctx);
}

function chain(
  item: string,
  stores: StoreSpec[],
  caches: StoreSpec[],
  implied: ImpliedStore[],
  ctx: Context,
): SymbolPathElement {
  // [US], [ASU]: the file is only ever opened from the leftmost store; an HTTP store "should not be
  // the leftmost or only store" and SymSrv recovers by copying to the default downstream store.
  // A preceding cache* already gives the file a local home ([SPWD "Combining cache* and srv*":
  // `cache*c:\MySymbols;srv*https://...` caches in c:\MySymbols]), so no default store is added then.
  if (stores.length === 1 && stores[0]?.kind === 'http' && caches.length === 0) {
    return { type: 'srv', text: item, stores: [ctx.defaultStore(), ...stores], caches, implied: [...implied, 'default-downstream'] };
  }
  return { type: 'srv', text: item, stores, caches, implied };
}

/**
 * `debuginfod*[store*...]*URL[*URL...]`, symsrv's own element: local tokens are downstream
 * stores (as in srv*), URL tokens debuginfod servers, asked in order. With no URL, the servers
 * of DEBUGINFOD_URLS (space-separated, as debuginfod-find reads it). A chain with no local store
 * gets the default downstream store (or the preceding cache*), as a lone HTTP store does.
 */
function parseDebuginfod(item: string, rest: string, caches: StoreSpec[], ctx: Context): SymbolPathElement {
  const tokens = rest.split('*').map((t) => t.trim()).filter((t) => t !== '');
  const implied: ImpliedStore[] = [];
  if (!tokens.some((t) => HTTP.test(t))) {
    const env = (ctx.options.env ?? process.env)['DEBUGINFOD_URLS'] ?? '';
    const urls = env.split(/\s+/).filter((u) => HTTP.test(u));
    if (urls.length === 0) return unsupported(item, 'it names no debuginfod server, and DEBUGINFOD_URLS holds no http(s) URL');
    tokens.push(...urls);
    implied.push('debuginfod-urls');
  }
  if (tokens.length > MAX_STORES) return unsupported(item, `it lists ${tokens.length} stores; at most ${MAX_STORES} are taken`);
  const stores: StoreSpec[] = tokens.map((t) => (HTTP.test(t) ? { kind: 'debuginfod', url: t } : localStore(t)));
  const firstRemote = stores.findIndex((s) => s.kind !== 'local');
  for (const [i, store] of stores.entries()) {
    if (store.kind === 'local') {
      if (i > firstRemote) return unsupported(item, `local store ${store.path} comes after a debuginfod server: downstream stores go first`);
    } else if (!isUsableUrl(store.url)) {
      return unsupported(item, `debuginfod server "${store.url}" is not a usable HTTP(S) URL (no host, or malformed)`);
    }
  }
  if (firstRemote === 0 && caches.length === 0) {
    return { type: 'srv', text: item, stores: [ctx.defaultStore(), ...stores], caches, implied: [...implied, 'default-downstream'] };
  }
  return { type: 'srv', text: item, stores, caches, implied };
}

function parseCache(item: string, ctx: Context): SymbolPathElement {
  const dir = item.slice('cache*'.length).trim();
  if (dir.includes('*')) {
    return unsupported(item, 'cache* takes one folder (cache*folder), not a list of stores');
  }
  if (HTTP.test(dir)) {
    return unsupported(item, `cache* needs a local folder, and ${dir} is an HTTP store that cannot be written to`);
  }
  // [SPWD "Caching symbols locally"]: `cache*` alone is the default symbol cache directory.
  const store = dir === '' ? ctx.defaultStore() : localStore(dir);
  return { type: 'cache', text: item, store };
}

/** [US "Types of Symbol Stores"]: `\\server\share` and `c:\dir` are file stores; `http(s)://` are web stores. */
function storeOf(token: string): StoreSpec {
  return HTTP.test(token) ? { kind: 'http', url: token } : localStore(token);
}

function isUsableUrl(url: string): boolean {
  try {
    return new URL(url).hostname !== '';
  } catch {
    return false;
  }
}

function localStore(path: string): StoreSpec {
  return { kind: 'local', path, isDefault: false };
}

/** The DLL is SymSrv when its file name is symsrv.dll, compared case-insensitively (a full path is allowed). */
function isSymsrvDll(dll: string): boolean {
  const name = dll.slice(Math.max(dll.lastIndexOf('\\'), dll.lastIndexOf('/')) + 1);
  return name.toLowerCase() === SYMSRV_DLL;
}

/**
 * The userinfo ranges of the URLs in a symbol path that hold `;` or `*`: the grammar splits the
 * path there, so the pieces would carry parts of a password into elements, stores, messages and
 * `--json`. The elements they touch are unsupported, and their text shows `***` for it.
 */
function splitUserinfo(text: string): Array<[number, number]> {
  return userinfoRanges(text).filter(([start, end]) => /[;*]/.test(text.slice(start, end)));
}

function unsupported(text: string, reason: string): SymbolPathElement {
  return { type: 'unsupported', text, reason };
}

function elementAround(text: string, at: number): string {
  const start = text.lastIndexOf(';', at) + 1;
  const end = text.indexOf(';', at);
  return text.slice(start, end < 0 ? text.length : end).trim();
}

function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
