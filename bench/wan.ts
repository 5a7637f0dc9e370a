/**
 * `npm run bench -- wan` (bench/proxy-run.sh wan): symsrv against curl through the proxy rig as
 * seen from a desk, with BENCH_WAN_MS (20) ms added each way between the clients and each squid
 * by test/helpers/latency-relay.ts (BENCH_WAN_BPS caps each connection's bytes/s, unset = none).
 * Same store, clients and rounds as bench/proxy.ts: 200 files of 64 KiB, symsrv --jobs 8 against
 * curl --parallel --parallel-max 8 --proxy-<scheme>, every scheme, HTTP and HTTPS origins.
 *
 * Besides wall time and 407s it prints what explains a difference across a slow link:
 * - conns: TCP connections the client opened (accepted by the relay);
 * - lines: lines the run added to squid's access.log (over HTTP each request, 407s included; over
 *   HTTPS each CONNECT attempt), and lines/conn;
 * - turns: request/answer round trips summed over the connections (the relay counts each time a
 *   client sends again after data came back: TLS handshakes count too), and turns/conn;
 * - conn1: ms from spawn to the first connection reaching the relay (Node start-up + set-up);
 * - byte1: ms from spawn to the first byte of the first file (the relay's first chunk that takes a
 *   connection past 16 KiB towards the client: 407s, 404s and TLS handshakes are smaller);
 * - at squid (HTTP only): ms from spawn to the first file's GET reaching squid (its log's
 *   end timestamp minus elapsed), as issue 16 measured it.
 * Target (issue 16): symsrv/curl <= 1.0 in every cell.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { startLatencyRelay, type LatencyRelay, type RelayConnection } from '../test/helpers/latency-relay.js';
import { makeTempDir } from '../test/helpers/tempdir.js';
import { startRig, type Rig } from '../test/rig/rig.js';
import { buildStore, FILE_BYTES, FILES, JOBS, MAIN, median, ORIGINS, ROUNDS, runCurl, runSymsrv, SCHEMES, SHM, table, type BenchContext, type Origin, type Scheme } from './proxy-clients.js';
import { BenchSession } from './session.js';

const WAN_MS = Number(process.env.BENCH_WAN_MS ?? 20);
const WAN_BPS = process.env.BENCH_WAN_BPS ? Number(process.env.BENCH_WAN_BPS) : undefined;
const TARGET_RATIO = 1.0;
/** A connection past this many bytes towards the client is carrying a file (see byte1 above). */
const FILE_FLOWING = 16 * 1024;

type Who = 'symsrv' | 'curl';

interface Run {
  seconds: number;
  n407: number;
  lines: number;
  conns: number;
  turns: number;
  conn1: number;
  byte1: number;
  /** NaN over HTTPS (squid sees only the CONNECT). */
  atSquid: number;
}

let rig: Rig<Scheme> | undefined;
const relays: LatencyRelay[] = [];
const session = new BenchSession('bench wan', async () => {
  for (const r of relays) await r.close();
  await rig?.stop();
});

/** When the first chunk took a connection past FILE_FLOWING bytes towards the client (epoch ms). */
function firstFileByte(conns: RelayConnection[]): number {
  let first = Infinity;
  for (const c of conns) {
    let down = 0;
    for (const ch of c.chunks) {
      if (ch.dir !== 'down') continue;
      down += ch.bytes;
      if (down > FILE_FLOWING) {
        first = Math.min(first, ch.at);
        break;
      }
    }
  }
  return first;
}

/** squid's native log line: `END.MS ELAPSED CLIENT CODE/STATUS BYTES METHOD URL ...`. */
function squidLines(text: string): Array<{ end: number; elapsed: number; code: string; method: string; url: string }> {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 7 && /^\d+\.\d+$/.test(f[0]!))
    .map((f) => ({ end: Number(f[0]) * 1000, elapsed: Number(f[1]), code: f[3]!, method: f[5]!, url: f[6]! }));
}

async function measure(ctx: BenchContext, relay: LatencyRelay, who: Who, scheme: Scheme, origin: Origin, keys: string[]): Promise<Run> {
  const r = ctx.rig;
  const base = `${origin === 'http' ? r.httpOrigin.url : r.httpsOrigin.url}/store`;
  const log = r.proxies[scheme].accessLog;
  await r.count407(scheme); // waits until the previous run's connections are closed and logged
  const offset = (await stat(log).catch(() => ({ size: 0 }))).size;
  relay.reset();
  const seconds = await (who === 'symsrv' ? runSymsrv : runCurl)(ctx, scheme, base, keys);
  const spawned = session.spawnedAt;
  await r.count407(scheme);
  const lines = squidLines((await readFile(log)).subarray(offset).toString('utf8'));
  const files = lines.filter((l) => l.code === 'TCP_MISS/200' && l.method === 'GET' && l.url.endsWith('.bin'));
  if (origin === 'http' && files.length < keys.length) throw new Error(`${who} ${scheme} http: squid logged ${files.length} file GETs for ${keys.length} keys: did it bypass the relay?`);
  if (relay.connections.length === 0) throw new Error(`${who} ${scheme} ${origin}: no connection reached the relay`);
  const conns = relay.connections;
  return {
    seconds,
    n407: lines.filter((l) => l.code === 'TCP_DENIED/407').length,
    lines: lines.length,
    conns: conns.length,
    turns: conns.reduce((n, c) => n + c.turns, 0),
    conn1: Math.min(...conns.map((c) => c.acceptedAt)) - spawned,
    byte1: firstFileByte(conns) + WAN_MS - spawned, // recorded on arrival from squid: the client has it WAN_MS later
    atSquid: files.length > 0 ? Math.min(...files.map((l) => l.end - l.elapsed)) - spawned : NaN,
  };
}

const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
const pair = (a: number[], b: number[], f: (x: number) => string = String): string => `${f(median(a))}/${f(median(b))}`;
const perConn = (xs: Run[], what: 'lines' | 'turns' | 'n407'): number[] => xs.map((x) => x[what] / x.conns);

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} does not exist: build first (npm run build)`);
  if (!existsSync(SHM)) throw new Error(`${SHM} does not exist: set BENCH_TMPFS to a tmpfs folder`);
  session.work = await makeTempDir('symsrv-wan-bench-', SHM);
  rig = await startRig({ schemes: [...SCHEMES], winbindWaitMs: 120_000 });
  const keys = await buildStore(rig.storeRoot);
  const ctx: BenchContext = { rig, session, proxies: {} };
  const relayOf = {} as Record<Scheme, LatencyRelay>;
  for (const scheme of SCHEMES) {
    const relay = await startLatencyRelay({ targetPort: rig.proxies[scheme].port, delayMs: WAN_MS, bytesPerSecond: WAN_BPS });
    relays.push(relay);
    relayOf[scheme] = relay;
    // "localhost", as the rig's own URLs: Negotiate asks for HTTP/localhost's ticket.
    ctx.proxies![scheme] = `http://localhost:${relay.port}`;
  }
  process.stderr.write(
    `bench wan: ${WAN_MS} ms each way${WAN_BPS ? `, ${WAN_BPS} B/s per connection` : ''} between the clients and each squid; ${FILES} x ${FILE_BYTES / 1024} KiB; ` +
      `symsrv fetch --jobs ${JOBS} vs curl --parallel-max ${JOBS} --proxy-<scheme>; ${ROUNDS} rounds\n`,
  );

  const results: Array<{ scheme: Scheme; origin: Origin; symsrv: Run[]; curl: Run[] }> = [];
  for (const scheme of SCHEMES) {
    for (const origin of ORIGINS) {
      const cell = { scheme, origin, symsrv: [] as Run[], curl: [] as Run[] };
      for (let round = 0; round < ROUNDS; round++) {
        const order: Who[] = round % 2 === 0 ? ['symsrv', 'curl'] : ['curl', 'symsrv'];
        for (const who of order) {
          const x = await measure(ctx, relayOf[scheme], who, scheme, origin, keys);
          cell[who].push(x);
          process.stderr.write(
            `bench wan: ${scheme} ${origin} round ${round + 1}: ${who.padEnd(6)} ${x.seconds.toFixed(3)} s, ${x.n407} x 407, ${x.lines} log lines, ${x.conns} conns, ${x.turns} turns, ` +
              `conn1 ${ms(x.conn1)} ms, byte1 ${ms(x.byte1)} ms, at squid ${ms(x.atSquid)} ms\n`,
          );
        }
      }
      results.push(cell);
    }
  }

  const rows = [['scheme', 'origin', 'symsrv s', 'curl s', `ratio (<= ${TARGET_RATIO})`, '407s s/c', 'conns s/c', 'lines s/c', 'lines/conn s/c', 'turns s/c', 'turns/conn s/c', 'conn1 ms s/c', 'byte1 ms s/c', 'at squid ms s/c']];
  for (const { scheme, origin, symsrv: s, curl: c } of results) {
    const a = median(s.map((x) => x.seconds));
    const b = median(c.map((x) => x.seconds));
    const f1 = (x: number): string => x.toFixed(1);
    rows.push([
      scheme,
      origin === 'http' ? 'HTTP' : 'HTTPS',
      a.toFixed(3),
      b.toFixed(3),
      `${(a / b).toFixed(2)} ${a / b <= TARGET_RATIO ? 'ok' : 'OVER'}`,
      pair(s.map((x) => x.n407), c.map((x) => x.n407)),
      pair(s.map((x) => x.conns), c.map((x) => x.conns)),
      pair(s.map((x) => x.lines), c.map((x) => x.lines)),
      pair(perConn(s, 'lines'), perConn(c, 'lines'), f1),
      pair(s.map((x) => x.turns), c.map((x) => x.turns)),
      pair(perConn(s, 'turns'), perConn(c, 'turns'), f1),
      pair(s.map((x) => x.conn1), c.map((x) => x.conn1), ms),
      pair(s.map((x) => x.byte1), c.map((x) => x.byte1), ms),
      pair(s.map((x) => x.atSquid), c.map((x) => x.atSquid), ms),
    ]);
  }
  process.stdout.write(
    `\n${table(rows)}\n\n(${WAN_MS} ms each way${WAN_BPS ? `, ${WAN_BPS} B/s per connection` : ''}; every figure the median of ${ROUNDS} rounds, "s/c" = symsrv/curl; wall clock incl. process start;\n` +
      ` conns: connections the relay accepted; lines: squid access.log lines (HTTP: requests incl. 407s; HTTPS: CONNECTs); turns: request/answer round trips over all connections;\n` +
      ` conn1: spawn to first connection; byte1: spawn to the first byte of the first file at the client side of the relay; at squid: spawn to the first file GET reaching squid)\n`,
  );
}

if (process.argv[2] === 'run') {
  const t0 = performance.now();
  main()
    .catch((err: unknown) => {
      if (session.interrupted) return;
      process.stderr.write(`bench wan: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await session.cleanup();
      process.stderr.write(`bench wan: ${((performance.now() - t0) / 1000).toFixed(0)} s in all\n`);
    });
} else if (process.argv[1]?.endsWith('wan.js') && !process.env.NODE_TEST_CONTEXT) {
  process.stderr.write('usage: node dist/bench/wan.js run   (or: npm run bench -- wan)\n');
}
