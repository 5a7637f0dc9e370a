import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLatencyRelay, type LatencyRelay } from './latency-relay.js';
import { startNginx, type NginxServer } from './nginx.js';
import { makeTempDir, removeDir } from './tempdir.js';

/**
 * The latency relay in front of a real nginx: bytes pass unchanged and in order, each round trip
 * costs at least twice the delay, a capped connection at least size/cap. Lower bounds only: a
 * loaded machine may be slower, never faster.
 */

const DELAY = 30;
const BIG = 1024 * 1024;

function get(port: number, path: string, agent: Agent): Promise<{ status: number; body: Buffer; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('latency relay', () => {
  let dir: string;
  let nginx: NginxServer;
  const big = randomBytes(BIG);
  const relays: LatencyRelay[] = [];

  before(async () => {
    dir = await makeTempDir('symsrv-relay-');
    await writeFile(join(dir, 'big.bin'), big);
    await writeFile(join(dir, 'small.txt'), 'hello\n');
    nginx = await startNginx({ root: dir });
  });
  after(async () => {
    for (const r of relays) await r.close();
    await nginx?.stop();
    await removeDir(dir);
  });

  test('adds the delay each way to every round trip, keeps the bytes in order, counts connections and turns', async () => {
    const relay = await startLatencyRelay({ targetPort: nginx.port, delayMs: DELAY });
    relays.push(relay);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(relay.port, '/store/small.txt', agent);
      assert.equal(first.status, 200);
      assert.equal(first.body.toString(), 'hello\n');
      assert.ok(first.ms >= 2 * DELAY, `a round trip took ${first.ms.toFixed(1)} ms, less than 2 x ${DELAY} ms`);
      const second = await get(relay.port, '/store/big.bin', agent); // same connection (keep-alive)
      assert.equal(second.status, 200);
      assert.ok(second.body.equals(big), 'the 1 MiB body came through changed or out of order');
      assert.ok(second.ms >= 2 * DELAY, `the second round trip took ${second.ms.toFixed(1)} ms`);
      assert.equal(relay.connections.length, 1);
      assert.equal(relay.connections[0]!.turns, 2);
      const down = relay.connections[0]!.chunks.filter((c) => c.dir === 'down').reduce((n, c) => n + c.bytes, 0);
      assert.ok(down > BIG, `the relay recorded ${down} bytes to the client, less than the body`);
    } finally {
      agent.destroy();
    }
  });

  test('a bandwidth cap makes a connection take at least size / cap', async () => {
    const cap = 4 * 1024 * 1024; // 1 MiB at 4 MiB/s: at least 250 ms
    const relay = await startLatencyRelay({ targetPort: nginx.port, delayMs: 1, bytesPerSecond: cap });
    relays.push(relay);
    const agent = new Agent({ keepAlive: false });
    const x = await get(relay.port, '/store/big.bin', agent);
    assert.ok(x.body.equals(big));
    assert.ok(x.ms >= (BIG * 1000) / cap, `1 MiB at ${cap} B/s took ${x.ms.toFixed(1)} ms`);
  });

  test('the target refusing the connection closes the client side', async () => {
    const gone = await startLatencyRelay({ targetPort: nginx.port, delayMs: 1 });
    const port = gone.port;
    await gone.close();
    // A relay to a closed port: connect to the relay, the relay's upstream fails, the client sees a reset/close.
    const relay = await startLatencyRelay({ targetPort: port, delayMs: 1 });
    relays.push(relay);
    await assert.rejects(get(relay.port, '/store/small.txt', new Agent({ keepAlive: false })));
  });
});
