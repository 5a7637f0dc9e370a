import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { createPacResolver } from 'pac-resolver';
import type { QuickJS } from 'quickjs-wasi';
import { messageOf, SymsrvError } from '../../errors.js';

/**
 * Proxy auto-config (PAC) files: loading one, running its `FindProxyForURL(url, host)` in a
 * sandbox, and reading the answer (`"PROXY a:1; PROXY b:2; DIRECT"`).
 *
 * The script runs in QuickJS compiled to WebAssembly (quickjs-wasi), through pac-resolver, which
 * supplies the PAC helper functions (`dnsDomainIs`, `shExpMatch`, `isInNet`, ...) and turns the
 * calls of the DNS ones into awaits. A PAC file comes from the network (WPAD, AutoConfigURL), so it
 * is untrusted code: it gets no Node API, a memory limit, a limit on uninterrupted run time (the
 * QuickJS interrupt handler; a `while (true) {}` is stopped), and a limit on a whole call that waits
 * for DNS (a host-side timer). A script that throws, loops, or answers something else than a
 * string is a SymsrvError E_PROXY naming the file, never a hang.
 */
export interface PacScriptOptions {
  /** Where the script came from, for messages (a URL or a file path; credentials are removed). */
  name?: string;
  /** Limit on one `FindProxyForURL` call, DNS lookups included, ms. Default 10 000. */
  timeoutMs?: number;
  /** Limit on an uninterrupted run of script code (a loop), ms. Default 2 000, at most timeoutMs. */
  cpuTimeoutMs?: number;
  /** QuickJS heap limit, bytes. Default 32 MiB. */
  memoryLimit?: number;
  /** Receives the script's `alert(...)` messages (for --verbose); they are dropped otherwise. */
  onAlert?: (message: string) => void;
  /**
   * More functions the script may call, beside the standard PAC ones (for instance Microsoft's
   * `dnsResolveEx`). An async function is awaited where the script calls it (pac-resolver).
   */
  sandbox?: Record<string, (...args: never[]) => unknown>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CPU_TIMEOUT_MS = 2_000;
const DEFAULT_MEMORY_LIMIT = 32 * 1024 * 1024;
/** PAC files of real networks are tens of KB; this only stops a runaway download. */
const MAX_PAC_CHARS = 4 * 1024 * 1024;
/**
 * An answer is a few `PROXY host:port` entries; real ones are well under 1 KB. A longer one is the
 * script misbehaving, and everything after (parsing, messages) must not pay for its size.
 */
export const MAX_PAC_ANSWER_CHARS = 64 * 1024;
/**
 * QuickJS's `memoryLimit` counts what its allocator was asked for, not what the WebAssembly
 * memory grew to: many small objects (allocator overhead, fragmentation, GC bookkeeping) took the
 * linear memory to several times the limit, and the reviews measured GBs of RSS. So the interrupt
 * handler also watches the linear memory itself, and stops the script once it passes this
 * multiple of the limit (what the runtime needs at start is well below).
 */
const LINEAR_MEMORY_FACTOR = 2;

type Resolver = ReturnType<typeof createPacResolver>;
type HostFunction = (...args: never[]) => unknown;

/**
 * The script's calls of async host functions (DNS). The VM must outlive those still running:
 * their answers are written into it. Once its VM is abandoned the functions become inert: they
 * return a promise that never settles, so whatever is left of the script stops at its next call
 * instead of going on in the background.
 */
class HostCalls {
  pending = 0;
  inert = false;
  onIdle: () => void = () => undefined;
  track<F extends HostFunction>(fn: F): F {
    return (async (...args: Parameters<F>) => {
      if (this.inert) return new Promise<never>(() => undefined);
      this.pending++;
      try {
        const value = await fn(...args);
        // Answer after a turn of the event loop: a script that loops on these calls then cannot
        // starve timers (ours included) and other I/O by running on microtasks alone.
        await new Promise((resolve) => setImmediate(resolve));
        return value;
      } finally {
        this.pending--;
        if (this.pending === 0) this.onIdle();
      }
    }) as unknown as F;
  }
}

/** `deadline` (performance.now() time) is the end of the call in progress; -Infinity between calls. */
interface Limits {
  deadline: number;
  /** Which limit stopped the script last. */
  stoppedBy: 'deadline' | 'cpu' | 'memory' | undefined;
}

/** One compiled copy of the script in its own VM. */
interface Generation {
  vm: QuickJS;
  resolver: Resolver;
  hostCalls: HostCalls;
  /** The call in progress on this VM: its host, and how to fail it. */
  current: { host: string; fail: (err: SymsrvError) => void } | undefined;
  /** Read by the interrupt handler: script code running after `deadline` is stopped. */
  limits: Limits;
  /** No call will run on it again; freed once no host call of it is still running. */
  abandoned: boolean;
  freed: boolean;
}

export class PacScript {
  readonly name: string;
  private readonly text: string;
  private readonly options: PacScriptOptions;
  private readonly timeoutMs: number;
  private readonly cpuTimeoutMs: number;
  /** The VM calls run on; replaced after a call fails. */
  private generation: Generation | undefined;
  /** Calls run one at a time, so that a timeout or a script error belongs to one call. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(text: string, options: PacScriptOptions) {
    this.name = options.name ?? 'proxy.pac';
    this.text = text;
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.cpuTimeoutMs = Math.min(options.cpuTimeoutMs ?? DEFAULT_CPU_TIMEOUT_MS, this.timeoutMs);
  }

  /** Compiles `text` (the PAC file's content). E_PROXY if it has no `FindProxyForURL` or does not compile. */
  static async create(text: string, options: PacScriptOptions = {}): Promise<PacScript> {
    const script = new PacScript(text, options);
    if (text.length > MAX_PAC_CHARS) {
      throw new SymsrvError('E_PROXY', `the PAC file ${script.name} is larger than ${MAX_PAC_CHARS} characters`, { subject: script.name });
    }
    script.generation = await script.compile();
    return script;
  }

  /**
   * Runs `FindProxyForURL` for `target` and returns its answer, unparsed. The script sees
   * `scheme://host[:port]/`: no credentials, path or query (as Chrome does for https URLs, so that a
   * PAC file from the network learns which servers are used, not which files are fetched).
   */
  findProxy(target: URL): Promise<string> {
    if (this.disposed) return Promise.reject(new Error(`PacScript ${this.name} used after dispose()`));
    const run = this.queue.then(() => this.run(target));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Frees the sandbox, as soon as no DNS lookup of the script is still running. */
  dispose(): void {
    this.disposed = true;
    if (this.generation) this.abandon(this.generation);
  }

  private async compile(): Promise<Generation> {
    const name = this.name;
    const cpuTimeoutMs = this.cpuTimeoutMs;
    // The interrupt handler is called every few thousand QuickJS instructions while script code
    // runs, and never while the VM waits; returning true stops the script with an uncatchable
    // "InternalError: interrupted". Two limits:
    // - the deadline of the call in progress (or of loading the script). It also holds when the
    //   script loops on host calls, whose answers arrive on microtasks that no timer can preempt.
    //   Between calls the deadline is -Infinity: stray code (a job left by a failed call) stops at once;
    // - a long uninterrupted run (a `while (true) {}`), to stop it well before the deadline. A run
    //   starts when the host enters the VM (enterVm below: a call, the load, a resumed job). It
    //   was once guessed from gaps between two calls of the handler, but a garbage collection makes
    //   such a gap too, so an allocation-heavy loop never hit the limit and ran to the deadline;
    // - the size of the VM's linear memory (LINEAR_MEMORY_FACTOR).
    const limits: Limits = { deadline: performance.now() + this.timeoutMs, stoppedBy: undefined };
    const memoryLimit = this.options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
    let linearMemory: { buffer: ArrayBuffer } | undefined;
    let runStart = performance.now();
    let depth = 0;
    const interruptHandler = (): boolean => {
      const now = performance.now();
      if (now > limits.deadline) {
        limits.stoppedBy = 'deadline';
        return true;
      }
      if (now - runStart > cpuTimeoutMs) {
        limits.stoppedBy = 'cpu';
        return true;
      }
      if (linearMemory && linearMemory.buffer.byteLength > LINEAR_MEMORY_FACTOR * memoryLimit) {
        limits.stoppedBy = 'memory';
        return true;
      }
      return false;
    };
    /** Wraps a VM entry point: the outermost entry starts a run (nested ones are host calls inside it). */
    const enterVm = <A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) => {
      return (...args: A): R => {
        if (depth++ === 0) runStart = performance.now();
        try {
          return fn(...args);
        } finally {
          depth--;
        }
      };
    };

    // Loaded only when a PAC file is used: the sandbox and its JavaScript parser cost ~0.1 s of
    // start-up that every other run of symsrv would pay for nothing.
    const [{ createPacResolver, sandbox: pacBuiltins }, { QuickJS }] = await Promise.all([import('pac-resolver'), import('quickjs-wasi')]);
    let vm: QuickJS;
    try {
      vm = await QuickJS.create({ memoryLimit, interruptHandler });
    } catch (err) {
      throw new SymsrvError('E_PROXY', `cannot start the sandbox for the PAC file ${name}: ${messageOf(err)}`, { cause: err, subject: name });
    }
    // quickjs-wasi does not declare its instance's exports public; without them only memoryLimit holds.
    const exported = (vm as unknown as { exports?: { memory?: { buffer?: unknown } } }).exports?.memory;
    if (exported?.buffer instanceof ArrayBuffer) linearMemory = exported as { buffer: ArrayBuffer };
    // Every way the host runs script code: the load (evalCode), a call (callFunction), and the jobs
    // resumed after a host answer (executePendingJobs, wrapped again in guardJobs).
    vm.evalCode = enterVm(vm.evalCode.bind(vm));
    vm.callFunction = enterVm(vm.callFunction.bind(vm));
    vm.executePendingJobs = enterVm(vm.executePendingJobs.bind(vm));

    const hostCalls = new HostCalls();
    const extra: Record<string, HostFunction> = {};
    for (const [fnName, fn] of Object.entries(this.options.sandbox ?? {})) {
      extra[fnName] = isAsync(fn) ? hostCalls.track(fn) : fn;
    }
    const onAlert = this.options.onAlert;
    let resolver: Resolver;
    try {
      resolver = createPacResolver(vm, this.text, {
        filename: name,
        sandbox: {
          alert: (message?: unknown) => onAlert?.(String(message ?? '')),
          dnsResolve: hostCalls.track(pacBuiltins.dnsResolve),
          isInNet: hostCalls.track(pacBuiltins.isInNet),
          isResolvable: hostCalls.track(pacBuiltins.isResolvable),
          myIpAddress: hostCalls.track(myIpAddress),
          ...extra,
        },
      });
    } catch (err) {
      const cause = plain(err);
      // Top-level code cannot await, but free the VM only once nothing can resolve into it.
      const free = (): void => {
        setImmediate(() => vm.dispose());
      };
      if (hostCalls.pending === 0) free();
      else hostCalls.onIdle = free;
      const why = limits.stoppedBy === 'deadline' ? `loading it took more than ${this.timeoutMs} ms` : errorText(cause, cpuTimeoutMs, limits.stoppedBy);
      throw new SymsrvError('E_PROXY', `the PAC file ${name} cannot be used: ${why}`, { cause, subject: name });
    }
    limits.deadline = Number.NEGATIVE_INFINITY;
    const generation: Generation = { vm, resolver, hostCalls, current: undefined, limits, abandoned: false, freed: false };
    hostCalls.onIdle = () => this.freeWhenIdle(generation);
    this.guardJobs(generation);
    return generation;
  }

  private async run(target: URL): Promise<string> {
    const generation = (this.generation ??= await this.compile());
    const url = pacRequestUrl(target);
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        generation.limits.deadline = Number.NEGATIVE_INFINITY;
        if (generation.current === current) generation.current = undefined;
        return true;
      };
      // After a failure part of the script may still be pending (waiting for a slow DNS answer,
      // looping on awaits, resumed after an interrupt in a nested job): abandon this VM, freeze
      // the script where it is, and let the next call start a fresh one.
      const fail = (err: SymsrvError): void => {
        if (!finish()) return;
        this.abandon(generation);
        reject(err);
      };
      const current = { host, fail };
      generation.limits.deadline = performance.now() + this.timeoutMs;
      generation.limits.stoppedBy = undefined;
      const timer = setTimeout(() => {
        fail(new SymsrvError('E_PROXY', `the PAC file ${this.name} did not answer for ${host} within ${this.timeoutMs} ms`, { subject: this.name }));
      }, this.timeoutMs);
      generation.current = current;
      let answer: Promise<string>;
      try {
        answer = generation.resolver(url, host);
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.then(
        (value: unknown) => {
          if (typeof value !== 'string') {
            fail(new SymsrvError('E_PROXY', `the PAC file ${this.name} answered ${describeValue(value)} for ${host}, not a string like "PROXY host:port; DIRECT"`, { subject: this.name }));
          } else if (value.length > MAX_PAC_ANSWER_CHARS) {
            fail(new SymsrvError('E_PROXY', `the PAC file ${this.name} answered ${value.length} characters for ${host}, more than the ${MAX_PAC_ANSWER_CHARS} a list of proxies can need`, { subject: this.name }));
          } else if (finish()) {
            resolve(value);
          }
        },
        (err: unknown) => fail(this.scriptError(err, host, generation)),
      );
    });
  }

  private scriptError(err: unknown, host: string, generation: Generation): SymsrvError {
    const cause = plain(err);
    if (generation.limits.stoppedBy === 'deadline' && isInterrupt(cause)) {
      return new SymsrvError('E_PROXY', `the PAC file ${this.name} did not answer for ${host} within ${this.timeoutMs} ms`, { cause, subject: this.name });
    }
    return new SymsrvError('E_PROXY', `the PAC file ${this.name} failed for ${host}: ${errorText(cause, this.cpuTimeoutMs, generation.limits.stoppedBy)}`, { cause, subject: this.name });
  }

  /**
   * pac-resolver resumes the script from a host promise callback (`vm.executePendingJobs()` after
   * a DNS answer). If the script then throws past its promise (an interrupt, out of memory), that
   * call throws inside a `.then` nobody handles, which would end the process (unhandled
   * rejection). We catch it here and fail the call in progress on this VM instead.
   */
  private guardJobs(generation: Generation): void {
    const vm = generation.vm;
    const original = vm.executePendingJobs.bind(vm);
    vm.executePendingJobs = (): number => {
      if (generation.freed) return 0;
      try {
        return original();
      } catch (err) {
        const current = generation.current;
        const error = this.scriptError(err, current?.host ?? 'a host', generation);
        current?.fail(error);
        return 0;
      }
    };
  }

  private abandon(generation: Generation): void {
    generation.abandoned = true;
    generation.hostCalls.inert = true;
    if (this.generation === generation) this.generation = undefined;
    this.freeWhenIdle(generation);
  }

  private freeWhenIdle(generation: Generation): void {
    if (!generation.abandoned || generation.freed || generation.hostCalls.pending > 0) return;
    // After the current callbacks (pac-resolver resolves into the VM right after our host
    // function returns) and after the failing call, which may be on the stack, has unwound.
    setImmediate(() => {
      if (generation.freed || generation.hostCalls.pending > 0) return;
      generation.freed = true;
      generation.vm.dispose();
    });
  }
}

/** `scheme://host[:port]/` of `target`: what a PAC script is shown. */
export function pacRequestUrl(target: URL): string {
  return `${target.protocol}//${target.host}/`;
}

function isAsync(fn: HostFunction): boolean {
  return fn.constructor.name === 'AsyncFunction';
}

/**
 * `myIpAddress()` without traffic: "connecting" a UDP socket only asks the OS which local address
 * routes to the internet, no packet is sent (Chromium does the same). pac-resolver's own version
 * opens a TCP connection to 8.8.8.8:53, which behind a firewall that drops it can hang for the
 * whole connect timeout.
 */
async function myIpAddress(): Promise<string> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (address: string): void => {
      try {
        socket.close();
      } catch {
        // already closed
      }
      resolve(address);
    };
    socket.once('error', () => done(firstInterfaceAddress()));
    socket.connect(53, '8.8.8.8', () => {
      try {
        done(socket.address().address);
      } catch {
        done(firstInterfaceAddress());
      }
    });
  });
}

function firstInterfaceAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.family === 'IPv4' && !info.internal) return info.address;
    }
  }
  return '127.0.0.1';
}

/** QuickJS raises these as InternalError; a job that failed with one reads "...: InternalError: interrupted". */
function isInternal(err: Error, what: string): boolean {
  return (err.name === 'InternalError' && err.message === what) || err.message.endsWith(`InternalError: ${what}`);
}

function isInterrupt(err: Error): boolean {
  return isInternal(err, 'interrupted');
}

/** A script error (QuickJS, esprima, degenerator, a host function) as one line. */
function errorText(err: Error, cpuTimeoutMs: number, stoppedBy?: Limits['stoppedBy']): string {
  const { name, message } = err;
  if (isInterrupt(err) && stoppedBy === 'memory') return 'the script ran out of memory (sandbox limit)';
  if (isInterrupt(err)) return `the script ran for more than ${cpuTimeoutMs} ms without stopping and was interrupted`;
  if (isInternal(err, 'out of memory')) return 'the script ran out of memory (sandbox limit)';
  return name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
}

/**
 * Copies name and message out of a QuickJS exception (which holds a handle into the VM and must be
 * disposed), so that the error kept as `cause` does not keep the VM alive.
 */
function plain(err: unknown): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  let name = 'Error';
  let message = '';
  try {
    name = err.name;
    message = err.message;
  } catch {
    message = 'script error';
  }
  const dispose = (err as { dispose?: unknown }).dispose;
  if (typeof dispose === 'function') {
    try {
      dispose.call(err);
    } catch {
      // the VM is gone: nothing to free
    }
    const copy = new Error(message);
    copy.name = name;
    return copy;
  }
  return err;
}


function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
