import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (the caller retries if it is taken by then). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Whether something LISTENs on 127.0.0.1:port, read from /proc/net/tcp (no probe connection: it would show in logs). */
export async function isListening(port: number): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile('/proc/net/tcp', 'utf8');
  const needle = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  // state 0A = LISTEN
  return text.split('\n').some((l) => {
    const cols = l.trim().split(/\s+/);
    return cols[1] === needle && cols[3] === '0A';
  });
}
