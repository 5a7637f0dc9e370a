import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay that makes a loopback server look far away: it listens on 127.0.0.1:0, opens one
 * connection to the target per accepted connection, and passes each chunk on `delayMs` later, in
 * each direction, in order (a 20 ms relay adds 40 ms to every round trip). Optionally it also caps
 * each connection's throughput per direction (`bytesPerSecond`), as one slow TCP stream would be.
 *
 * Hand-written because no packaged tool fits: `tc netem` needs CAP_NET_ADMIN and delays the whole
 * loopback interface (every other test on the machine too); toxiproxy is a Go daemon not in
 * Debian. This is ~150 lines of node:net and shapes only the connections that go through it.
 *
 * It also records what passed, per connection, for benchmarks: when it was accepted, and each
 * chunk's time, direction and size (the "turns" count tells how many request/answer round trips a
 * connection cost, whatever it carried, TLS included).
 */

export interface RelayOptions {
  /** Where to forward: 127.0.0.1:targetPort. */
  targetPort: number;
  targetHost?: string;
  /** Added to each chunk, in each direction (ms). */
  delayMs: number;
  /** Per connection and per direction; unset = no cap. */
  bytesPerSecond?: number;
}

/** One chunk as the relay received it (`at`: ms since the epoch, with sub-ms precision). */
export interface RelayChunk {
  at: number;
  dir: 'up' | 'down';
  bytes: number;
}

export interface RelayConnection {
  acceptedAt: number;
  chunks: RelayChunk[];
  /** Times the client started sending again after data came back: request/answer round trips. */
  turns: number;
}

export interface LatencyRelay {
  port: number;
  /** Every connection accepted since start (or the last reset()). */
  connections: RelayConnection[];
  /** Forgets the recorded connections (open ones keep relaying, unrecorded). */
  reset(): void;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

/** The most bytes queued in one direction before the relay stops reading the sender (back-pressure). */
const MAX_QUEUED = 8 * 1024 * 1024;

const now = (): number => performance.timeOrigin + performance.now();

/**
 * One direction of one connection: chunks wait in a queue until their release time, so order is
 * kept whatever the delays (one timer per direction, armed for the head of the queue).
 */
class DelayedPipe {
  private readonly queue: Array<{ at: number; data: Buffer | null }> = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the last queued chunk leaves: with a cap, the next one cannot leave before it. */
  private lastRelease = 0;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly opts: RelayOptions,
    onChunk: (bytes: number) => void,
  ) {
    from.on('data', (data: Buffer) => {
      onChunk(data.length);
      this.push(data);
    });
    from.on('end', () => this.push(null)); // a half-close travels with the same delay
  }

  private push(data: Buffer | null): void {
    const arrival = now();
    let at = arrival + this.opts.delayMs;
    if (data && this.opts.bytesPerSecond) {
      // Serialisation: this chunk leaves once the previous ones have had their share of the link.
      const start = Math.max(arrival, this.lastRelease - this.opts.delayMs);
      at = start + (data.length * 1000) / this.opts.bytesPerSecond + this.opts.delayMs;
    }
    at = Math.max(at, this.lastRelease);
    this.lastRelease = at;
    this.queue.push({ at, data });
    if (data) {
      this.queued += data.length;
      if (this.queued > MAX_QUEUED) this.from.pause();
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.queue[0]!.at - now()));
  }

  private flush(): void {
    this.timer = undefined;
    const t = now();
    while (this.queue.length > 0 && this.queue[0]!.at <= t + 0.5) {
      const { data } = this.queue.shift()!;
      if (this.to.destroyed) return;
      if (data === null) {
        this.to.end();
        continue;
      }
      this.queued -= data.length;
      this.to.write(data);
    }
    if (this.queued <= MAX_QUEUED / 2 && this.from.isPaused()) this.from.resume();
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export function startLatencyRelay(opts: RelayOptions): Promise<LatencyRelay> {
  const open = new Set<Socket>();
  const relay = { port: 0, connections: [] as RelayConnection[], reset: () => void (relay.connections = []), close };

  // allowHalfOpen: a peer's FIN must not close our sending side at once, with chunks still queued
  // for it; the FIN is passed on in order (DelayedPipe's end marker) and each side closes then.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const rec: RelayConnection = { acceptedAt: now(), chunks: [], turns: 0 };
    relay.connections.push(rec);
    const upstream = createConnection({ host: opts.targetHost ?? '127.0.0.1', port: opts.targetPort, allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    open.add(client);
    open.add(upstream);
    let last: 'up' | 'down' | undefined;
    const record = (dir: 'up' | 'down') => (bytes: number) => {
      const at = now();
      if (dir === 'up' && last !== 'up') rec.turns++;
      last = dir;
      rec.chunks.push({ at, dir, bytes });
    };
    const pipes = [new DelayedPipe(client, upstream, opts, record('up')), new DelayedPipe(upstream, client, opts, record('down'))];
    // An error on either side (a reset, the target refusing) cuts both at once, as a real path
    // would; a clean close travels as the end marker, and the pipes stop when both sides are closed.
    const abort = (): void => {
      for (const p of pipes) p.stop();
      for (const s of [client, upstream]) s.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', abort);
      s.on('close', () => {
        open.delete(s);
        if (client.destroyed && upstream.destroyed) for (const p of pipes) p.stop();
      });
    }
  });

  function close(): Promise<void> {
    for (const s of open) s.destroy();
    open.clear();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      relay.port = (server.address() as { port: number }).port;
      resolve(relay);
    });
  });
}
