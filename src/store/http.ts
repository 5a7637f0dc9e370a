import { escapeControls } from '../escape.js';
import { SymsrvError } from '../errors.js';
import type { SymbolKey } from '../keys/key.js';
import { redactUrl, statusError } from '../transport/errors.js';
import { withRetry } from '../transport/retry.js';
import { describeProxy, type HttpResponse, type Transport } from '../transport/transport.js';
import type { ProxyChoice } from '../transport/select/select.js';
import { saveResponse } from './download.js';
import { RANGE_PARTS, RANGE_THRESHOLD, RangesRefused, type RangeOptions } from './ranges.js';
import { StoreHealth } from './health.js';
import { POINTER_FILE, THREE_TIER_MARKER, compressedName, keyFolder, storeUrl } from './layout.js';
import { isUrl, parsePointer, POINTER_LIMIT } from './pointer.js';
import type { LookupContext, LookupResult, Store } from './types.js';

/**
 * A symbol store behind HTTP(S) (`srv*cache*https://msdl.microsoft.com/download/symbols`).
 * Probes in SymSrv's order: the file, its compressed `.pd_` form, then `file.ptr`. A file found
 * is streamed into `ctx.into` (the nearest downstream store; a `.pd_` expanded on the way, as
 * SymSrv leaves it), checked, then renamed into place.
 */
export class HttpStore implements Store {
  readonly kind = 'http' as const;
  readonly location: string;
  private layout: Promise<boolean> | undefined;
  private readonly health: StoreHealth;
  private readonly rangeThreshold: number;

  constructor(
    protected readonly base: string,
    protected readonly transport: Transport,
    /** How long a connection, TLS, 401 or 403 failure makes the store skipped (store/health.ts). */
    options: { failureTtlMs?: number | undefined; rangeThreshold?: number | undefined } = {},
  ) {
    this.location = redactUrl(base);
    this.rangeThreshold = options.rangeThreshold ?? RANGE_THRESHOLD;
    this.health = new StoreHealth(options.failureTtlMs);
  }

  /**
   * Whether the store is three-tier (serves `index2.txt`). Asked once per session; a store that
   * cannot answer is treated as two-tier, and its real failure shows on the file probe.
   */
  private threeTier(signal?: AbortSignal): Promise<boolean> {
    this.layout ??= this.transport
      .getText(storeUrl(this.base, [], THREE_TIER_MARKER), POINTER_LIMIT, signal)
      .then((text) => text !== undefined)
      .catch((err: unknown) => {
        this.layout = undefined; // ask again next time: the failure may have been passing
        // A Cancel at the credential prompt is the person's answer, not a passing failure.
        if (err instanceof SymsrvError && err.code === 'E_PROXY_AUTH_CANCELLED') throw err;
        // A dead or refusing store: remembered, and this lookup ends here (not a second timeout).
        if (this.health.record(err) && this.health.current()) throw err;
        return false;
      });
    return this.layout;
  }

  async lookup(key: SymbolKey, ctx: LookupContext): Promise<LookupResult> {
    const down = this.health.current();
    if (down) {
      ctx.onProbe?.({ store: this.location, target: this.location, result: `skipped: it failed earlier (${down.message})` });
      throw down;
    }
    try {
      return await this.lookupOnce(key, ctx);
    } catch (err) {
      throw this.health.record(err);
    }
  }

  private async lookupOnce(key: SymbolKey, ctx: LookupContext): Promise<LookupResult> {
    const segments = keyFolder(key, await this.threeTier(ctx.signal));
    const fileUrl = storeUrl(this.base, segments, key.name);

    if (await this.download(fileUrl, key, ctx, false)) {
      return { status: 'found', path: this.placed(ctx, key), downloaded: true };
    }

    // The file is not there: `.pd_` and file.ptr are asked for at once (a missing key costs two
    // round trips, not three; a dump's 250 missing modules through a distant proxy feel each one),
    // and SymSrv's order decides: a compressed file wins over a pointer, whose small answer is dropped.
    const ptrUrl = storeUrl(this.base, segments, POINTER_FILE);
    const pointerText = this.transport.getText(ptrUrl, POINTER_LIMIT, ctx.signal);
    pointerText.catch(() => undefined); // its failure matters only if the .pd_ is missing too (awaited below)

    // A compressed store file (SymStore /compress): expanded as it streams in, to the key's own name.
    if (await this.download(storeUrl(this.base, segments, compressedName(key.name)), key, ctx, true)) {
      return { status: 'found', path: this.placed(ctx, key), downloaded: true };
    }

    const text = await pointerText;
    ctx.onProbe?.({ store: this.location, target: redactUrl(ptrUrl), result: text === undefined ? '404' : '200' });
    if (text === undefined) return { status: 'missing' };
    const pointer = parsePointer(text);
    if (pointer.type === 'message') {
      ctx.onMessage?.(`${this.location}: ${escapeControls(pointer.text)}`); // the server's text: escaped (escape.ts)
      return { status: 'missing' };
    }
    // Only a URL is followed from an HTTP store: a remote server must not make us read local files.
    if (pointer.type === 'invalid' || !isUrl(pointer.target)) {
      throw new SymsrvError('E_BAD_POINTER', `${redactUrl(ptrUrl)}: a file.ptr on an HTTP store must hold PATH:<http(s) URL>`, {
        subject: redactUrl(ptrUrl),
      });
    }
    if (await this.download(pointer.target, key, ctx, false)) {
      return { status: 'found', path: this.placed(ctx, key), downloaded: true };
    }
    return { status: 'missing' };
  }

  protected placed(ctx: LookupContext, key: SymbolKey): string {
    return `${ctx.into!.replace(/[\\/]+$/, '')}/${key.name}`;
  }

  /** GETs `url` once; undefined on 404/410; a 2xx response otherwise (anything else throws). */
  private async openOnce(url: string, ctx: LookupContext): Promise<HttpResponse | undefined> {
    let res: HttpResponse;
    let via: string | undefined;
    let proxy: URL | null = null;
    const onProxy = ctx.onProbe
      ? (c: ProxyChoice): void => {
          proxy = c.url;
          via = c.url ? `proxy ${describeProxy(c.url)} (${c.source})` : 'direct';
        }
      : undefined;
    // The scheme the proxy accepted (never the credential itself).
    const withScheme = (): string | undefined => {
      const scheme = proxy ? this.transport.proxyScheme(proxy) : undefined;
      return via && scheme ? `${via}, ${scheme}` : via;
    };
    try {
      res = await this.transport.get(url, { ...(ctx.signal ? { signal: ctx.signal } : {}), ...(onProxy ? { onProxy } : {}) });
    } catch (err) {
      ctx.onProbe?.({ store: this.location, target: redactUrl(url), result: (err as SymsrvError).code ?? 'error', ...(via ? { via: withScheme()! } : {}) });
      throw err;
    }
    ctx.onProbe?.({ store: this.location, target: redactUrl(url), result: String(res.status), ...(via ? { via: withScheme()! } : {}) });
    if (res.status === 404 || res.status === 410) {
      await res.discard();
      return undefined;
    }
    if (res.status >= 300 && res.status < 400) {
      await res.discard();
      throw statusError(res.status, '(too many redirects, or a redirect without a Location)', res.url, { retryable: false });
    }
    if (res.status < 200 || res.status >= 300) {
      await res.discard();
      throw statusError(res.status, '', res.url, { headers: res.headers });
    }
    return res;
  }

  /**
   * Downloads `url` into the downstream folder. The whole GET-and-stream is one retried step:
   * a connection that drops mid-body costs a new, clean download, never a partial file.
   */
  protected async download(url: string, key: SymbolKey, ctx: LookupContext, compressed: boolean): Promise<boolean> {
    // Large bodies in parallel ranges (ranges.ts); after a server answered a range wrongly, one stream.
    let split = !compressed;
    const ranges: RangeOptions = {
      threshold: this.rangeThreshold,
      parts: Math.min(RANGE_PARTS, this.transport.options.connectionsPerOrigin),
      retry: this.transport.options,
      get: (u, headers, signal) => this.transport.get(u, { headers, signal }),
    };
    return withRetry(
      async () => {
        const res = await this.openOnce(url, ctx);
        if (!res) return false;
        if (!ctx.into) {
          await res.discard();
          throw new SymsrvError('E_IO', `no writable store to download ${key.index} into`, { subject: key.index });
        }
        const options = { key, compressed, signal: ctx.signal, onBytes: ctx.onBytes, maxSize: ctx.maxSize };
        try {
          await saveResponse(res, ctx.into, key.name, { ...options, ranges: split ? ranges : undefined });
        } catch (err) {
          if (!(err instanceof RangesRefused)) throw err;
          split = false;
          ctx.onProbe?.({ store: this.location, target: redactUrl(url), result: `ranges refused (${err.message}): one stream` });
          const again = await this.openOnce(url, ctx);
          if (!again) return false;
          await saveResponse(again, ctx.into, key.name, options);
        }
        return true;
      },
      this.transport.options,
      ctx.signal,
    );
  }
}
