import { SymsrvError } from './errors.js';
import { parseKey, type SymbolKey } from './keys/key.js';
import { parseSymbolPath, type StoreSpec, type SymbolPath } from './symbolpath/parse.js';
import { resolveSymbolPath } from './symbolpath/defaults.js';
import { StoreChain } from './store/chain.js';
import { fallbackFolder } from './store/fallback.js';
import { FolderStore } from './store/folder.js';
import { HttpStore } from './store/http.js';
import { DebuginfodStore } from './store/debuginfod.js';
import { LocalStore } from './store/local.js';
import type { ProbeEvent, Store } from './store/types.js';
import type { TransportOptions } from './transport/options.js';
import { Transport } from './transport/transport.js';
import type { CredentialPrompt, CredentialRequest } from './prompts/types.js';

export interface SymbolClientOptions {
  /** An `_NT_SYMBOL_PATH`-style path. Default: `_NT_SYMBOL_PATH` (and `_NT_ALT_SYMBOL_PATH`), else the `.symfix` path. */
  symbolPath?: string;
  /** HTTP settings (timeouts, retries, CAs, proxies), or a Transport to share; with an instance, `proxy`, `proxyCredentials`, `prompt` and `noPrompts` are refused (E_USAGE): set them in its own options. */
  transport?: Transport | TransportOptions;
  /**
   * The proxy, like `SymbolServerSetOptions(SSRVOPT_PROXY, ...)`: `"host:port"` or
   * `"http://host:port"`; null or absent = the default (`_NT_SYMBOL_PROXY`, then the system);
   * `'direct'` = none. Overrides `transport.proxies.proxy`.
   */
  proxy?: string | null | 'direct';
  /** Proxy credentials (`DOMAIN\user` or `user@REALM`); they go to the proxy only. */
  proxyCredentials?: { user: string; password: string };
  /** Each probe made (store, file or URL, result): for `--verbose` and `!sym noisy`. */
  onProbe?: (e: ProbeEvent) => void;
  /** Messages from stores (`file.ptr` `MSG:` lines) and the one-time notice after a Cancel. */
  onMessage?: (text: string) => void;
  /** Asks for proxy credentials (a terminal prompt, a GUI dialog); see src/prompts/types.ts. */
  prompt?: CredentialPrompt;
  /** SYMOPT_NO_PROMPTS: never call `prompt` (changeable with setOptions). */
  noPrompts?: boolean;
  /**
   * How long an HTTP store that failed to connect, failed TLS or answered 401/403 is skipped
   * (default 5 minutes; the CLI: the whole run). See store/health.ts.
   */
  storeFailureTtlMs?: number;
  /** The most one download may write, in bytes (default 16 GiB, see store/bound.ts); a PE key bounds it further. */
  maxDownloadSize?: number;
}

export interface FindOptions {
  signal?: AbortSignal;
  /** Bytes written as a download progresses. */
  onBytes?: (n: number) => void;
}

export type FindResult =
  | { key: string; status: 'found'; path: string; store: string; downloaded: boolean }
  | { key: string; status: 'missing' }
  | { key: string; status: 'error'; error: SymsrvError; store?: string };

/** One lookup unit: a `srv*` element's chain, or a plain folder behind its `cache*` stores. */
interface Entry {
  text: string;
  chain: StoreChain;
}

/**
 * What a caller uses: a symbol path turned into store chains, and lookups over them.
 *
 * `find` walks the symbol path's elements in order and returns the first hit (downloading and
 * filling downstream stores on the way, as SymSrv's SymFindFileInPath does); misses and failures
 * are results, not exceptions. `fetch` is the same but returns the path or throws.
 */
export class SymbolClient {
  symbolPath: SymbolPath;
  private transport!: Transport;
  private ownsTransport = false;
  private entries: Entry[] = [];
  private tempDir: Promise<string> | undefined;
  /** SYMOPT_NO_PROMPTS: never ask for credentials. */
  private noPrompts: boolean;
  /** Set by a Cancel at the credential prompt: HTTP stores are skipped until prompts are switched on again. */
  private internetOff = false;
  private cancelNoticeShown = false;

  constructor(private options: SymbolClientOptions = {}) {
    if (options.transport instanceof Transport) {
      // A Transport instance was built with its own proxy settings and prompt: the client cannot
      // change them, so these options would silently do nothing (issue 14 #12). Refused instead.
      const given = (['proxy', 'proxyCredentials', 'prompt', 'noPrompts'] as const).filter((k) => options[k] !== undefined);
      if (given.length > 0) throw transportInstanceError(given.join(', '));
    }
    this.noPrompts = options.noPrompts ?? false;
    const { text } = resolveSymbolPath(options.symbolPath);
    this.symbolPath = parseSymbolPath(text);
    this.build();
  }

  /** Whether a Cancel at the credential prompt has turned Internet stores off for this session. */
  get internetDisabled(): boolean {
    return this.internetOff;
  }

  /**
   * Changes options for the rest of the session, as SymbolServerSetOptions and SymSetOptions do:
   * `proxy` (SSRVOPT_PROXY: "host:port", null for the default, 'direct'), `noPrompts`
   * (SYMOPT_NO_PROMPTS), `symbolPath`. Switching prompts on again re-enables Internet stores
   * after a Cancel.
   */
  async setOptions(o: { proxy?: string | null | 'direct'; noPrompts?: boolean; symbolPath?: string }): Promise<void> {
    if (this.options.transport instanceof Transport && (o.proxy !== undefined || o.noPrompts !== undefined)) {
      throw transportInstanceError(o.proxy !== undefined ? 'proxy' : 'noPrompts');
    }
    if (o.noPrompts !== undefined) {
      this.noPrompts = o.noPrompts;
      if (!o.noPrompts) this.internetOff = this.cancelNoticeShown = false;
    }
    if (o.symbolPath !== undefined) {
      this.symbolPath = parseSymbolPath(o.symbolPath); // throws before anything changes
    }
    if (o.proxy !== undefined) {
      // A new proxy: a new transport (its connections, and the credentials answered for the old proxy, go).
      this.options = { ...this.options, proxy: o.proxy };
      if (this.ownsTransport) await this.transport.close();
      this.buildTransport();
    }
    // A new symbol path keeps the transport: its authenticated connections and the credentials
    // a person answered belong to the proxy, not to the path.
    if (o.proxy !== undefined || o.symbolPath !== undefined) this.buildStores();
  }

  private build(): void {
    this.buildTransport();
    this.buildStores();
  }

  private buildTransport(): void {
    const options = this.options;
    // Credentials are asked through the caller's prompt, unless prompts are off right now.
    const prompt = options.prompt
      ? async (request: CredentialRequest) => {
          if (this.noPrompts || this.internetOff) return undefined;
          const answer = await options.prompt!(request);
          // Cancel: no further question this session (until prompts are switched on again).
          if (answer === null) this.internetOff = true;
          return answer;
        }
      : undefined;
    if (options.transport instanceof Transport) {
      this.transport = options.transport;
      this.ownsTransport = false;
    } else {
      const t = options.transport ?? {};
      const proxies = {
        ...t.proxies,
        ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
        ...(options.proxyCredentials ? { proxyCredentials: options.proxyCredentials } : {}),
        ...(prompt ? { prompt } : {}),
      };
      this.transport = new Transport({ ...t, proxies });
      this.ownsTransport = true;
    }
  }

  /** One store chain per element of the symbol path, over the current transport. */
  private buildStores(): void {
    const fallback = (): Promise<string> => (this.tempDir ??= fallbackFolder());
    const stores = new Map<string, Store>(); // one Store object per location, so per-store state is shared
    const storeFor = (spec: StoreSpec): Store => {
      const id = spec.kind === 'local' ? `local:${spec.path}` : `${spec.kind}:${spec.url}`;
      let s = stores.get(id);
      if (!s) {
        const health = { failureTtlMs: this.options.storeFailureTtlMs };
        s =
          spec.kind === 'http'
            ? new HttpStore(spec.url, this.transport, health)
            : spec.kind === 'debuginfod'
              ? new DebuginfodStore(spec.url, this.transport, health)
              : new LocalStore(spec.path);
        stores.set(id, s);
      }
      return s;
    };
    this.entries = [];
    for (const el of this.symbolPath.elements) {
      if (el.type === 'srv') {
        this.entries.push({ text: el.text, chain: new StoreChain([...el.caches, ...el.stores].map(storeFor), fallback) });
      } else if (el.type === 'folder') {
        this.entries.push({ text: el.text, chain: new StoreChain([...el.caches.map(storeFor), new FolderStore(el.path)], fallback) });
      }
      // `cache*` elements only add stores to later elements; 'unsupported' ones are skipped (symsrv path explains why).
    }
  }

  async find(key: string | SymbolKey, options: FindOptions = {}): Promise<FindResult> {
    const k = typeof key === 'string' ? parseKey(key) : key;
    let failure: FindResult | undefined;
    for (const entry of this.entries) {
      let r;
      try {
        r = await entry.chain.lookup(k, {
          signal: options.signal,
          onBytes: options.onBytes,
          onProbe: this.options.onProbe,
          onMessage: this.options.onMessage,
          skipHttp: this.internetOff,
          maxSize: this.options.maxDownloadSize,
        });
      } catch (err) {
        if (!(err instanceof SymsrvError) || err.code !== 'E_PROXY_AUTH_CANCELLED') throw err;
        // Cancel at the prompt: SymSrv's answer is to stop using Internet stores for the session,
        // said once; local stores and caches go on working.
        if (!this.cancelNoticeShown) {
          this.cancelNoticeShown = true;
          this.internetOff = true;
          this.options.onMessage?.(err.message);
        }
        failure ??= { key: k.index, status: 'error', error: err };
        continue;
      }
      if (r.status === 'found') return { key: k.index, ...r };
      if (r.status === 'error') failure ??= { key: k.index, status: 'error', error: r.error, store: r.store };
    }
    return failure ?? { key: k.index, status: 'missing' };
  }

  /** The local path of the key's file, downloading it if needed; throws E_NOT_FOUND or the lookup's error. */
  async fetch(key: string | SymbolKey, options: FindOptions = {}): Promise<string> {
    const r = await this.find(key, options);
    if (r.status === 'found') return r.path;
    if (r.status === 'error') throw r.error;
    throw new SymsrvError('E_NOT_FOUND', `${r.key} was not found on the symbol path`, { subject: r.key });
  }

  async close(): Promise<void> {
    if (this.ownsTransport) await this.transport.close();
  }
}

function transportInstanceError(what: string): SymsrvError {
  return new SymsrvError(
    'E_USAGE',
    `${what} cannot apply to a Transport instance given as the transport option: set the proxy, its credentials and the prompt in that Transport's own options (proxies), or pass transport options instead of an instance`,
  );
}
