import { SymsrvError } from '../errors.js';
import { redactUrl } from './errors.js';

/** Something a guard can stop: a request, a response body, a socket. */
export interface Destroyable {
  destroy(error?: Error): unknown;
}

/** What code below the transport (forward.ts) needs of a guard: to be told when to stop. */
export interface Watcher {
  watch(target: Destroyable): () => void;
}

/**
 * The abort state of one GET, from the first byte sent to the last byte of the body: the
 * caller's signal, the total timeout and the per-phase timers (connect, headers) all end here,
 * with the SymsrvError that says what happened as the reason.
 *
 * Why not `AbortSignal.any` and `http.request({ signal })`: each costs a listener set-up with
 * stream end-of-stream tracking per request; together they were 10% of the CPU of a 200-file
 * run (measured with --cpu-prof). A guard adds one listener to the caller's signal and destroys
 * what it watches itself, with the SymsrvError as the error, so the body's reader sees the real
 * reason ("timed out waiting for the response headers"), not a generic AbortError.
 */
export class RequestGuard implements Watcher {
  /** The SymsrvError the guard aborted with, if it did. */
  reason: SymsrvError | undefined;
  private readonly watched = new Set<Destroyable>();
  /** The per-phase timers (connect, headers): dispose() clears those still pending, so none outlives the request. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private total: NodeJS.Timeout | undefined;
  private readonly onCallerAbort: (() => void) | undefined;
  private disposed = false;

  constructor(
    private readonly url: string,
    private readonly caller: AbortSignal | undefined,
    totalTimeoutMs: number,
  ) {
    if (caller) {
      if (caller.aborted) {
        this.abort(this.callerReason());
      } else {
        this.onCallerAbort = () => this.abort(this.callerReason());
        caller.addEventListener('abort', this.onCallerAbort, { once: true });
      }
    }
    if (totalTimeoutMs > 0 && !this.aborted) {
      this.total = setTimeout(
        () => this.abort(new SymsrvError('E_TIMEOUT', `GET ${redactUrl(url)}: the request took longer than the total timeout (${totalTimeoutMs / 1000} s)`, { subject: redactUrl(url) })),
        totalTimeoutMs,
      );
    }
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** Ends everything watched with `error`; later watches are destroyed at once. */
  abort(error: SymsrvError): void {
    if (this.reason) return;
    this.reason = error;
    // Latest first: a response body is destroyed with `error` before its request's socket goes.
    for (const w of [...this.watched].reverse()) w.destroy(error);
    this.watched.clear();
    this.dispose();
  }

  /** Destroys `target` when the guard aborts. Returns the function that stops watching it. */
  watch(target: Destroyable): () => void {
    if (this.reason) {
      target.destroy(this.reason);
      return () => {};
    }
    this.watched.add(target);
    return () => this.watched.delete(target);
  }

  /** A timer that aborts the guard with `error()` after `ms`; returns the function that clears it. */
  timer(ms: number, error: () => SymsrvError): () => void {
    if (this.disposed) return () => {};
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.abort(error());
    }, ms);
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  /** The request is over (body read, discarded or failed): drop the timers and the caller's listener. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.total) clearTimeout(this.total);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.onCallerAbort) this.caller!.removeEventListener('abort', this.onCallerAbort);
    this.watched.clear();
  }

  private callerReason(): SymsrvError {
    const r = this.caller?.reason as unknown;
    if (r instanceof SymsrvError) return r;
    return new SymsrvError('E_ABORTED', `GET ${redactUrl(this.url)}: aborted`, { cause: r, subject: redactUrl(this.url) });
  }
}
