import { SymbolClient, type SymbolClientOptions } from '../client.js';
import { SymsrvError } from '../errors.js';
import type { ProbeEvent } from '../store/types.js';
import { resolveSymbolPath, type SymbolPathSource as PathSource } from '../symbolpath/defaults.js';
import type { TransportOptions } from '../transport/options.js';
import type { ShellModule, SymbolState } from './modules.js';

export interface ShellSessionOptions {
  /** The symbol path to start with; default `_NT_ALT_SYMBOL_PATH`/`_NT_SYMBOL_PATH`, else the `.symfix` path. */
  symbolPath?: string;
  /** HTTP settings (proxies, timeouts, CAs), used by every client the session builds. */
  transport?: TransportOptions;
  modules?: ShellModule[];
  /** Lookups at a time in `.reload` (default 4); noisy mode looks up one at a time so probes read in order. */
  jobs?: number;
  /**
   * More client options, asked for each time a client is built (at the start and on every
   * symbol path change): the place to plug a credential prompt in, e.g.
   * `(s) => ({ prompt, noPrompts: !s.promptsOn })`.
   */
  clientOptions?: (session: ShellSession) => Partial<SymbolClientOptions>;
  /** Where the default path is read from (tests). */
  env?: NodeJS.ProcessEnv;
}

/** Where the symbol path came from, for `.sympath` and the banner. */
export type SymbolPathSource = PathSource | 'set';

/**
 * The console's state: modules, symbol path, the client built from it, `!sym noisy` and the
 * `!sym prompts` flag. No terminal here: commands.ts runs commands on a session and writes to
 * whatever sink it is given, so tests drive it directly.
 */
export class ShellSession {
  readonly modules: ShellModule[];
  /** `!sym noisy`: print every probe. */
  noisy = false;
  /**
   * `!sym prompts`: whether a credential prompt may be shown. Off at the start, as in cdb and kd
   * (SYMOPT_NO_PROMPTS is on by default there, off in WinDbg: "Symbol Options").
   */
  promptsOn = false;
  /** Called when `!sym prompts` / `!sym prompts off` changes the flag (wired by the CLI). */
  onPromptsChanged?: (on: boolean) => void;
  readonly jobs: number;

  private text: string;
  private source: SymbolPathSource;
  private current: SymbolClient;
  private readonly transport: TransportOptions;
  private readonly extra: ShellSessionOptions['clientOptions'];
  /** Where probe lines and store messages go while a command runs. */
  private sink: (line: string) => void = () => {};

  constructor(options: ShellSessionOptions = {}) {
    const env = options.env ?? process.env;
    ({ text: this.text, source: this.source } = resolveSymbolPath(options.symbolPath, env));
    this.transport = options.transport ?? {};
    this.extra = options.clientOptions;
    this.modules = options.modules ?? [];
    this.jobs = Math.max(1, options.jobs ?? 4);
    this.current = this.build(this.text);
  }

  get symbolPath(): string {
    return this.text;
  }

  get symbolPathSource(): SymbolPathSource {
    return this.source;
  }

  /** The client (one for the whole session; `.sympath` changes its path). */
  get client(): SymbolClient {
    return this.current;
  }

  /**
   * Sets the symbol path. A path that cannot be parsed throws and leaves the session as it was.
   * Modules keep their state: as in the debuggers, symbols already loaded stay loaded, and
   * `.reload` looks up the others on the new path. The client stays, and with it its
   * connections, the proxy credentials answered at a prompt and a Cancel's effect: they belong
   * to the proxy and the session, not to the path (SymSrv keeps them for the process).
   */
  async setSymbolPath(text: string): Promise<void> {
    await this.current.setOptions({ symbolPath: text });
    this.text = text;
    this.source = 'set';
  }

  setPrompts(on: boolean): void {
    this.promptsOn = on;
    this.onPromptsChanged?.(on);
  }

  /** Runs `fn` with probe lines and store messages going to `write`. */
  async withOutput<T>(write: (line: string) => void, fn: () => Promise<T>): Promise<T> {
    const before = this.sink;
    this.sink = write;
    try {
      return await fn();
    } finally {
      this.sink = before;
    }
  }

  /**
   * Looks up one module's symbols and records the result. Returns undefined, leaving the state
   * as it was, when `signal` aborted the lookup (Ctrl+C).
   */
  async lookup(m: ShellModule, signal?: AbortSignal): Promise<SymbolState | undefined> {
    if (!m.key) return m.state;
    let state: SymbolState;
    try {
      const r = await this.current.find(m.key, signal ? { signal } : {});
      if (r.status === 'found') state = { status: 'loaded', path: r.path, store: r.store };
      else if (r.status === 'missing') state = { status: 'missing' };
      else state = { status: 'error', message: r.error.message };
    } catch (err) {
      if (!(err instanceof SymsrvError)) throw err; // a bug of ours: the command loop reports it
      if (err.code === 'E_ABORTED' || signal?.aborted) return undefined;
      state = { status: 'error', message: err.message };
    }
    if (signal?.aborted) return undefined;
    m.state = state;
    return state;
  }

  async close(): Promise<void> {
    await this.current.close();
  }

  private build(symbolPath: string): SymbolClient {
    return new SymbolClient({
      ...this.extra?.(this),
      symbolPath,
      transport: this.transport,
      onProbe: (e) => {
        if (this.noisy) this.sink(formatProbe(e));
      },
      onMessage: (text) => this.sink(`SYMSRV:  ${text}`),
    });
  }
}

/**
 * One `!sym noisy` line: the store, the file or URL probed, the result (found, missing, an HTTP
 * status, an error code) and, for HTTP, the route (`direct`, or the proxy and why it was chosen).
 * ProbeEvent holds no credential (store/types.ts): URLs come without userinfo, proxies through
 * describeProxy.
 */
export function formatProbe(e: ProbeEvent): string {
  return `SYMSRV:  ${e.store}: ${e.target} -> ${e.result}${e.via ? ` via ${e.via}` : ''}`;
}
