import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SymbolClient, type FindResult } from '../../client.js';
import { SymsrvError } from '../../errors.js';
import { parseKey, type SymbolKey } from '../../keys/key.js';
import { copyAtomically } from '../../store/atomic.js';
import type { ProxyOptions, TransportOptions } from '../../transport/options.js';
import { SCHEME_STRENGTH, type SchemeName } from '../../transport/auth/types.js';
import { EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_USAGE, ExitError } from '../exit.js';
import { describeError, out, printJson, warn } from '../output.js';
import { startProgress, type Progress } from '../progress.js';
import { promptsWanted } from '../../prompts/policy.js';
import { terminalPrompt } from '../../prompts/terminal.js';
import type { CredentialPrompt } from '../../prompts/types.js';
import { keysOfTargets } from '../targets.js';
import { limited } from '../../limited.js';

export interface FetchOptions {
  sympath?: string;
  recursive?: boolean;
  key: string[];
  images?: boolean;
  out?: string;
  jobs: number;
  json?: boolean;
  verbose?: boolean;
  cacert?: string;
  connectTimeout?: number;
  timeout?: number;
  retries?: number;
  maxSize?: number;
  proxy?: string | false;
  pac?: string;
  proxyUser?: string;
  proxyAuth?: string;
  prompts?: boolean;
}

interface Row {
  key: string;
  status: 'found' | 'missing' | 'error';
  path?: string;
  store?: string;
  error?: string;
}

/** `symsrv fetch`: the symbols of binaries, PDBs, folders or keys, downloaded `--jobs` at a time. */
export async function run(targets: string[], opts: FetchOptions): Promise<void> {
  if (targets.length === 0 && opts.key.length === 0) {
    throw new ExitError(EXIT_USAGE, 'fetch needs a TARGET (binary, PDB or folder) or --key KEY');
  }

  // Everything about the input is checked before any network traffic: a bad key or unreadable
  // file is a usage error (exit 2), reported at once.
  const keys: SymbolKey[] = opts.key.map((k) => parseKey(k));
  const { keys: computed, skipped } = await keysOfTargets(targets, { recursive: Boolean(opts.recursive), images: Boolean(opts.images) });
  for (const s of skipped) warn(`skipped ${s.file}: ${s.reason}`);
  keys.push(...computed.map((c) => c.key));
  const unique = [...new Map(keys.map((k) => [k.index, k])).values()];

  const transport: TransportOptions = {};
  if (opts.cacert) transport.ca = [await readCa(opts.cacert)];
  if (opts.connectTimeout !== undefined) transport.connectTimeout = opts.connectTimeout * 1000;
  if (opts.timeout !== undefined) transport.bodyTimeout = transport.headersTimeout = opts.timeout * 1000;
  if (opts.retries !== undefined) transport.retries = opts.retries;
  transport.connectionsPerOrigin = Math.max(opts.jobs, 1);
  transport.proxies = proxyOptions(opts);

  // Asked on a 407 only when a person is there (promptsWanted); the bar stops first, so the
  // question is not drawn over.
  let progress: Progress | undefined;
  const ask = promptsWanted({ flag: opts.prompts, json: opts.json }) ? terminalPrompt() : undefined;
  const prompt: CredentialPrompt | undefined = ask
    ? (req) => {
        progress?.stop();
        return ask(req);
      }
    : undefined;
  const client = new SymbolClient({
    ...(prompt ? { prompt } : {}),
    ...(opts.sympath !== undefined ? { symbolPath: opts.sympath } : {}),
    transport,
    ...(opts.maxSize !== undefined ? { maxDownloadSize: opts.maxSize } : {}),
    // One run: a store that failed to connect (or refused us) is not asked again in it.
    storeFailureTtlMs: Infinity,
    onMessage: (text) => warn(text),
    ...(opts.verbose ? { onProbe: (e) => warn(`probe ${e.target} -> ${e.result}${e.via ? ` via ${e.via}` : ''}`) } : {}),
  });

  const showProgress = Boolean(process.stderr.isTTY) && !opts.verbose;
  progress = startProgress(unique.length, showProgress);
  const bar = progress;
  const onBytes = showProgress ? (n: number): void => bar.bytes(n) : undefined;
  const rows: Row[] = new Array(unique.length);
  const outNames = new Map<string, string>();
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    await Promise.all(
      limited([...unique.keys()], opts.jobs, async (i) => {
        if (stop.signal.aborted) return;
        let r: FindResult;
        try {
          r = await client.find(unique[i]!, { signal: stop.signal, ...(onBytes ? { onBytes } : {}) });
        } catch (err) {
          // Ctrl-C: the keys in flight end with E_ABORTED; what was done is still reported below.
          if (stop.signal.aborted) return;
          throw err;
        }
        rows[i] = await toRow(r, opts.out, outNames);
        bar.fileDone();
      }),
    );
  } finally {
    process.off('SIGINT', onSignal);
    bar.stop();
    await client.close();
  }

  // After Ctrl-C only the keys that finished have a row (the others were not looked up: neither
  // found nor missing), and the exit code says so (130, as shells report SIGINT).
  const done = rows.filter((r): r is Row => r !== undefined);
  if (opts.json) {
    printJson(done);
  } else {
    for (const r of done) {
      if (r.status === 'found') out(`found ${r.key} ${r.path}`);
      else if (r.status === 'missing') out(`missing ${r.key}`);
      else out(`error ${r.key} ${r.error}`);
    }
  }
  if (stop.signal.aborted) {
    warn(`interrupted: ${unique.length - done.length} of ${unique.length} keys not looked up`);
    throw new ExitError(EXIT_INTERRUPTED);
  }
  if (done.some((r) => r.status !== 'found')) throw new ExitError(EXIT_INCOMPLETE);
}

async function toRow(r: FindResult, outDir: string | undefined, outNames: Map<string, string>): Promise<Row> {
  if (r.status === 'missing') return { key: r.key, status: 'missing' };
  if (r.status === 'error') return { key: r.key, status: 'error', error: describeError(r.error), ...(r.store ? { store: r.store } : {}) };
  let path = r.path;
  if (outDir) {
    // --out is flat (as symchk /oc): two different builds with one name cannot both go there.
    const name = r.key.split('/')[0]!;
    const taken = outNames.get(name.toLowerCase());
    if (taken !== undefined && taken !== r.key) {
      return { key: r.key, status: 'error', error: `${name} from ${taken} is already in ${outDir}`, store: r.store };
    }
    outNames.set(name.toLowerCase(), r.key);
    try {
      path = await copyAtomically(r.path, resolve(outDir), name);
    } catch (err) {
      return { key: r.key, status: 'error', error: describeError(err), store: r.store };
    }
  }
  return { key: r.key, status: 'found', path, store: r.store };
}

/** The proxy options of `fetch` (and later `shell`): --proxy, --no-proxy, --pac, --proxy-user, --proxy-auth. */
export function proxyOptions(opts: { proxy?: string | false; pac?: string; proxyUser?: string; proxyAuth?: string }): ProxyOptions {
  const p: ProxyOptions = {};
  if (opts.proxy === false) p.proxy = 'direct';
  else if (typeof opts.proxy === 'string') p.proxy = opts.proxy;
  if (opts.pac) p.pac = opts.pac;
  if (opts.proxyUser) p.proxyUser = opts.proxyUser;
  if (opts.proxyAuth) p.proxyAuth = parseSchemeList(opts.proxyAuth);
  return p;
}

/** `--proxy-auth negotiate,ntlm`: schemes in the order to prefer them. */
function parseSchemeList(text: string): SchemeName[] {
  const list = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const s of list) {
    if (!(SCHEME_STRENGTH as readonly string[]).includes(s)) {
      throw new SymsrvError('E_USAGE', `--proxy-auth takes a comma-separated list of ${SCHEME_STRENGTH.join(', ')}, not "${s}"`);
    }
  }
  if (list.length === 0) throw new SymsrvError('E_USAGE', '--proxy-auth needs at least one scheme');
  return list as SchemeName[];
}

export async function readCa(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new SymsrvError('E_USAGE', `cannot read --cacert ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
