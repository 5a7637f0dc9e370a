import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP relay in front of a proxy that logs no status codes (tinyproxy logs request lines only):
 * it passes every byte through unchanged both ways and counts the status codes of the responses
 * the proxy sends, so a test can count 407s (and tinyproxy's 401s) per client run.
 *
 * Hand-written because it must read a raw proxy byte stream, not be an HTTP client or server:
 * it frames requests (to pair each response with its method: HEAD has no body, a 2xx to CONNECT
 * turns the connection into a tunnel, where counting stops) and responses (Content-Length,
 * chunked, or until close). Request bodies are framed by Content-Length only (the clients under
 * test send none); a request with Transfer-Encoding, or a head over 64 KiB, makes the relay stop
 * counting on that connection and report it through `unframed`.
 */
export interface CountingRelay {
  /** `http://127.0.0.1:PORT`: give this to the client as the proxy. */
  url: string;
  port: number;
  /** Responses with one of these statuses seen so far (absolute: take differences). */
  count(...statuses: number[]): number;
  /** Connections whose stream could not be framed (then their statuses are missing from count). */
  unframed(): number;
  /**
   * Requests that never got an answer before their connection closed (a client waiting on a proxy
   * that went silent, then giving up): a proxy that stops answering, seen without timing anything.
   */
  unanswered(): number;
  stop(): Promise<void>;
}

const MAX_HEAD = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

export async function startCountingRelay(target: { host: string; port: number }): Promise<CountingRelay> {
  const counts = new Map<number, number>();
  let unframed = 0;
  let unanswered = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const framer = new Framer((status) => counts.set(status, (counts.get(status) ?? 0) + 1), () => unframed++);
    // Unanswered = left waiting on a proxy that stayed silent (mitmproxy 8 after a 407 to CONNECT):
    // the client gave up first. A request the proxy dropped by closing the connection (tinyproxy
    // closes kept-alive connections at once) is the client's to resend, not a silent proxy.
    let proxyClosed = false;
    upstream.once('end', () => (proxyClosed = true));
    upstream.once('close', () => (proxyClosed = true));
    client.once('close', () => {
      if (!proxyClosed) unanswered += framer.pending();
    });
    client.on('data', (d: Buffer) => {
      framer.request(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      framer.response(d); // counted before the client can see it
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    count: (...statuses) => statuses.reduce((n, s) => n + (counts.get(s) ?? 0), 0),
    unframed: () => unframed,
    unanswered: () => unanswered,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      })),
  };
}

type Body = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked'; step: 'size' | 'data' | 'crlf' | 'trailer'; left: number } | { kind: 'close' };

/** Frames one connection's requests and responses (see above); `done` once a tunnel or an unframable stream begins. */
class Framer {
  private methods: string[] = [];
  private req: Buffer = Buffer.alloc(0);
  private reqBody = 0;
  /** After a CONNECT, what follows depends on its answer: parse nothing more until it comes. */
  private awaitingConnect = false;
  private res: Buffer = Buffer.alloc(0);
  private body: Body = { kind: 'none' };
  private done = false;

  constructor(
    private readonly onStatus: (status: number) => void,
    private readonly onUnframed: () => void,
  ) {}

  /** Requests still waiting for their answer (0 once the stream is a tunnel or could not be framed). */
  pending(): number {
    return this.done ? 0 : this.methods.length;
  }

  request(d: Buffer): void {
    if (this.done) return;
    this.req = this.req.length ? Buffer.concat([this.req, d]) : d;
    this.parseRequests();
  }

  response(d: Buffer): void {
    if (this.done) return;
    this.res = this.res.length ? Buffer.concat([this.res, d]) : d;
    this.parseResponses();
  }

  private giveUp(): void {
    this.done = true;
    this.onUnframed();
  }

  private parseRequests(): void {
    while (!this.done && !this.awaitingConnect && this.req.length > 0) {
      if (this.reqBody > 0) {
        const n = Math.min(this.reqBody, this.req.length);
        this.reqBody -= n;
        this.req = this.req.subarray(n);
        continue;
      }
      const end = this.req.indexOf(CRLF2);
      if (end < 0) return void (this.req.length > MAX_HEAD && this.giveUp());
      const head = this.req.subarray(0, end).toString('latin1');
      this.req = this.req.subarray(end + 4);
      if (/\r\ntransfer-encoding:/i.test(head)) return this.giveUp();
      const method = head.slice(0, head.indexOf(' '));
      this.methods.push(method);
      this.reqBody = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (method === 'CONNECT') this.awaitingConnect = true;
    }
  }

  private parseResponses(): void {
    while (!this.done && this.res.length > 0) {
      const b = this.body;
      if (b.kind === 'close') return void (this.res = Buffer.alloc(0));
      if (b.kind === 'length') {
        const n = Math.min(b.left, this.res.length);
        b.left -= n;
        this.res = this.res.subarray(n);
        if (b.left === 0) this.body = { kind: 'none' };
        continue;
      }
      if (b.kind === 'chunked') {
        if (!this.chunk(b)) return;
        continue;
      }
      const end = this.res.indexOf(CRLF2);
      if (end < 0) return void (this.res.length > MAX_HEAD && this.giveUp());
      const head = this.res.subarray(0, end).toString('latin1');
      this.res = this.res.subarray(end + 4);
      const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(head)?.[1]);
      if (!Number.isInteger(status)) return this.giveUp();
      if (status >= 100 && status < 200 && status !== 101) continue; // interim: the final answer follows
      this.onStatus(status);
      const method = this.methods.shift();
      if (method === 'CONNECT') {
        if (status >= 200 && status < 300) return void (this.done = true); // a tunnel: TLS from here on
        this.awaitingConnect = false;
      }
      if (method === 'HEAD' || status === 204 || status === 304) this.body = { kind: 'none' };
      else if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) this.body = { kind: 'chunked', step: 'size', left: 0 };
      else {
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
        this.body = length === undefined ? { kind: 'close' } : Number(length) > 0 ? { kind: 'length', left: Number(length) } : { kind: 'none' };
      }
      if (method === 'CONNECT') this.parseRequests();
    }
  }

  /** Consumes what it can of a chunked body; false when it needs more bytes. */
  private chunk(b: Extract<Body, { kind: 'chunked' }>): boolean {
    if (b.step === 'data') {
      const n = Math.min(b.left, this.res.length);
      b.left -= n;
      this.res = this.res.subarray(n);
      if (b.left > 0) return false;
      b.step = 'crlf';
      return true;
    }
    if (b.step === 'crlf') {
      if (this.res.length < 2) return false;
      this.res = this.res.subarray(2);
      b.step = 'size';
      return true;
    }
    const eol = this.res.indexOf('\r\n');
    if (eol < 0) {
      if (this.res.length > MAX_HEAD) this.giveUp();
      return false;
    }
    const line = this.res.subarray(0, eol).toString('latin1');
    this.res = this.res.subarray(eol + 2);
    if (b.step === 'trailer') {
      if (line === '') this.body = { kind: 'none' };
      return true;
    }
    const size = parseInt(line, 16);
    if (!Number.isFinite(size)) {
      this.giveUp();
      return false;
    }
    if (size === 0) b.step = 'trailer';
    else {
      b.step = 'data';
      b.left = size;
    }
    return true;
  }
}
