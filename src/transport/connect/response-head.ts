import type { Socket } from 'node:net';

/**
 * Reading a proxy's answer to CONNECT straight off the socket: the status line and headers,
 * then (for a refusal such as 407) its body, so the same connection can carry the next round of
 * an NTLM or Negotiate handshake. One job, as proxy-agents' parse-proxy-response.ts.
 */
export interface ProxyResponseHead {
  statusCode: number;
  statusText: string;
  /** Header names lower-cased; repeated headers (Proxy-Authenticate) collected in arrays. */
  headers: Record<string, string | string[]>;
  /** HTTP/1.0, or `Connection: close`: the proxy will close after this answer. */
  closes: boolean;
}

/** Headers larger than this are not a proxy's answer to CONNECT. */
const HEAD_LIMIT = 64 * 1024;

export class ProxyProtocolError extends Error {
  /** `transient`: a connection closed early, often passing (an idle connection closed by the proxy), worth a retry. */
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/**
 * Reads one response head from `socket`. Bytes after the head are pushed back with
 * `socket.unshift`, so whoever reads next (the body skipper, or TLS) sees them.
 */
export function readResponseHead(socket: Socket): Promise<ProxyResponseHead> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new ProxyProtocolError('it closed the connection before answering', true));
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buffered.length > HEAD_LIMIT) {
          cleanup();
          reject(new ProxyProtocolError(`its answer has more than ${HEAD_LIMIT} bytes of headers`));
        }
        return;
      }
      cleanup();
      socket.pause();
      const rest = buffered.subarray(end + 4);
      if (rest.length) socket.unshift(rest);
      try {
        resolve(parseHead(buffered.subarray(0, end).toString('latin1')));
      } catch (err) {
        reject(err);
      }
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    socket.resume();
  });
}

export function parseHead(text: string): ProxyResponseHead {
  const lines = text.split('\r\n');
  const m = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) throw new ProxyProtocolError(`its answer is not HTTP: "${(lines[0] ?? '').slice(0, 80)}"`);
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else headers[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  const http10 = m[1] === '1' && m[2] === '0';
  const connection = String(headers['connection'] ?? headers['proxy-connection'] ?? '').toLowerCase();
  const closes = http10 ? !connection.includes('keep-alive') : connection.includes('close');
  return { statusCode: Number(m[3]), statusText: m[4] ?? '', headers, closes };
}

/**
 * Reads and drops the body of a refusal so the connection can be used again. Returns false when
 * the body has no length we can skip (no Content-Length: it ends when the proxy closes), in
 * which case the connection cannot carry another round.
 */
export function skipBody(socket: Socket, head: ProxyResponseHead): Promise<boolean> {
  const len = head.headers['content-length'];
  if (typeof len !== 'string' || !/^\d+$/.test(len)) return Promise.resolve(false);
  let left = Number(len);
  if (left === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
    };
    const onClose = (): void => {
      cleanup();
      resolve(false);
    };
    const onData = (chunk: Buffer): void => {
      if (chunk.length <= left) {
        left -= chunk.length;
      } else {
        socket.pause();
        socket.unshift(chunk.subarray(left));
        left = 0;
      }
      if (left === 0) {
        cleanup();
        socket.pause();
        resolve(true);
      }
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onClose);
    socket.resume();
  });
}
