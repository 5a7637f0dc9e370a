import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isListening } from '../helpers/ports.js';
import { descendants, isStopped } from './procs.js';
import { startRig, type Rig } from './rig.js';
import { EXPECTED_407, selfCheck } from './selfcheck.js';
import { sweepSquidSegments, sweepStaleRigs } from './stale.js';
import { WINBIND_LOCK } from './winbind.js';

/** The proxy rig on its own: it comes up, curl gets through every scheme, and it leaves nothing behind. */

function wbinfoPing(): Promise<boolean> {
  return new Promise((resolve) => execFile('wbinfo', ['-p'], (err) => resolve(!err)));
}

/** A squid -n name of the rig's. */
const isRigSquidName = (n: string | undefined): boolean => n !== undefined && n.startsWith('symsrvrig');

/** Live processes whose command line names `text`. */
function processesNaming(text: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text) && !isStopped(Number(name))) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Our live child processes (the rig starts its daemons in the foreground as our children). */
function ourChildren(): number[] {
  return descendants([process.pid]).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(process.pid);
    } catch {
      return false;
    }
  });
}

describe('proxy rig (squid per scheme, winbind, MIT KDC, nginx origins)', () => {
  let rig: Rig;
  let upMs = 0;

  before(async () => {
    const t0 = Date.now();
    // Another engineer's suite may hold the machine's one winbindd for a while: wait for it.
    rig = await startRig({ winbindWaitMs: 120_000 });
    upMs = Date.now() - t0;
  });
  after(() => rig?.stop());

  test('comes up with one squid per scheme, both origins, the KDC and winbindd', async (t) => {
    // No bound on upMs: it includes any wait for another suite's winbindd (about 1 s otherwise).
    t.diagnostic(`up in ${upMs} ms; dir ${rig.dir}`);
    assert.equal(statSync(rig.dir).mode & 0o777, 0o755);
    assert.deepEqual(Object.keys(rig.proxies).sort(), ['all', 'basic', 'digest', 'negotiate', 'negotiate-ntlm', 'ntlm']);
    for (const [scheme, p] of Object.entries(rig.proxies)) {
      assert.equal(p.url, `http://localhost:${p.port}`, scheme);
      assert.ok(await isListening(p.port), `squid ${scheme} listens on ${p.port}`);
    }
    const ports = Object.values(rig.proxies).map((p) => p.port);
    assert.equal(new Set([...ports, rig.httpOrigin.port, rig.httpsOrigin.port]).size, ports.length + 2, 'distinct ports');
    assert.ok(await wbinfoPing(), 'winbindd answers wbinfo -p');
    assert.ok(existsSync(rig.ca) && existsSync(rig.krb5.config));
    assert.equal(rig.user, 'alice');
    assert.equal(rig.domain, 'SYMSRV');
    assert.equal(rig.realm, 'SYMSRV.TEST');
  });

  test('self-check: curl gets through every scheme with the expected 407 counts', async (t) => {
    const report = await selfCheck(rig);
    t.diagnostic(`self-check in ${report.ms} ms; 407s per curl with 20 URLs: ${JSON.stringify(report.counts)}; all squid, 1 URL: ${JSON.stringify(report.allCounts)}; NTLM in Negotiate: ${JSON.stringify(report.ntlmInNegotiate)}`);
    assert.deepEqual(report.counts, EXPECTED_407);
    assert.deepEqual(report.allOffered, ['Negotiate', 'NTLM', 'Digest', 'Basic']);
    // negotiate-ntlm: Samba's NTLM client under the Negotiate scheme: one 407 (the Type 2), and one
    // more for the refusal of a wrong password.
    const once = { good: 200, bad: 407, good407: 1, bad407: 2 };
    assert.deepEqual(report.ntlmInNegotiate, { http: once, https: once });
  });

  test('a second rig with NTLM fails with a clear message and leaves nothing behind', async () => {
    const children = ourChildren().sort();
    const err: unknown = await startRig({ schemes: ['ntlm'] }).then(
      (r) => r.stop().then(() => assert.fail('a second winbindd rig started')),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error);
    assert.match(err.message, /another winbindd already answers on \/run\/samba\/winbindd\/pipe/);
    const dir = /rig dir (\S+) removed/.exec(err.message)?.[1];
    assert.ok(dir, err.message);
    assert.equal(existsSync(dir), false, 'its dir is removed');
    assert.deepEqual(processesNaming(dir), [], 'none of its processes runs');
    assert.deepEqual(ourChildren().sort(), children, 'its nginx origins and KDC are stopped');
    assert.ok(await wbinfoPing(), "the first rig's winbindd still answers");
  });

  test('a rig without NTLM runs next to it, on its own ports', async () => {
    const other = await startRig({ schemes: ['basic', 'negotiate'] });
    try {
      assert.deepEqual(Object.keys(other.proxies).sort(), ['basic', 'negotiate']);
      assert.notEqual(other.proxies.basic.port, rig.proxies.basic.port);
      const report = await selfCheck(other);
      assert.deepEqual(report.counts, { basic: EXPECTED_407.basic, negotiate: EXPECTED_407.negotiate });
      // The self-check is not vacuous: a password the proxy does not know makes it fail, naming the rig.
      await assert.rejects(selfCheck({ ...other, password: 'not-the-password' }), (e: Error) => {
        assert.match(e.message, /^rig self-check failed: the test rig is broken, not symsrv/);
        assert.match(e.message, /basic \(http:\/\/localhost:\d+\): good credentials over http: curl exit 0, codes \["407 000"/);
        assert.doesNotMatch(e.message, /negotiate \(/, 'Negotiate needs no password');
        return true;
      });
    } finally {
      await other.stop();
    }
    assert.equal(existsSync(other.dir), false);
    assert.deepEqual(processesNaming(other.dir), []);
  });

  test('the processes of a rig whose test process was killed are stopped by the next start', async () => {
    // A test process killed by SIGKILL runs no exit hook, and squid (which dropped to proxy) does not
    // get setpriv's parent-death signal: startRig sweeps such rigs first.
    const rigJs = new URL('./rig.js', import.meta.url).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e',
      `const { startRig } = await import(${JSON.stringify(rigJs)}); const r = await startRig({ schemes: ['basic', 'digest'] }); console.log(r.dir); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    const dir = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code} before its rig was up`)));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const orphans = processesNaming(dir);
    assert.ok(orphans.length >= 2, `the dead rig's squids still run: ${orphans.length}`);
    assert.ok((await sweepStaleRigs()).includes(dir));
    assert.deepEqual(orphans.filter((p) => !isStopped(p)), []);
    assert.equal(existsSync(dir), false);
    assert.ok(await wbinfoPing(), "the live rig's winbindd is untouched");
  });

  test("squid's /dev/shm segments that no running squid owns are swept; a live rig's are kept", async () => {
    const segments = (): string[] => readdirSync('/dev/shm').filter((n) => n.startsWith('symsrvrig') && n.includes('-cf__'));
    // This rig's squids, by their -n names (earlier tests may have left orphans: those go too).
    const names = processesNaming(rig.dir)
      .map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
      .map((argv) => argv[argv.indexOf('-n') + 1])
      .filter((n): n is string => isRigSquidName(n));
    const ours = (): string[] => segments().filter((seg) => names.some((n) => seg.startsWith(`${n}-cf__`)));
    const before = ours();
    assert.ok(before.length > 0, 'the running rig has segments');
    const dead = '/dev/shm/symsrvrigdeadbeefbasic-cf__metadata.shm';
    writeFileSync(dead, '');
    assert.ok((await sweepSquidSegments()) >= 1);
    assert.equal(existsSync(dead), false);
    assert.deepEqual(ours(), before);
  });

  test('stop() stops every process (zombies count as stopped) and removes the dir', async (t) => {
    const pids = processesNaming(rig.dir);
    const all = [...pids, ...descendants(pids), ...ourChildren()];
    assert.ok(pids.length >= 9, `squids, helpers, winbindd, samba-dcerpcd, KDC: ${pids.length}`);
    const t0 = Date.now();
    await rig.stop();
    const downMs = Date.now() - t0;
    t.diagnostic(`down in ${downMs} ms, ${all.length} processes`);
    assert.deepEqual(all.filter((p) => !isStopped(p)), []);
    assert.deepEqual(processesNaming(rig.dir), []);
    assert.equal(existsSync(rig.dir), false);
    const lock = existsSync(WINBIND_LOCK) ? readFileSync(WINBIND_LOCK, 'utf8') : '';
    assert.ok(!lock.includes(rig.dir), 'the winbindd claim is released');
    for (const p of Object.values(rig.proxies)) assert.equal(await isListening(p.port), false);
    assert.equal(await isListening(rig.httpOrigin.port), false);
    assert.ok(downMs < 10_000, `down in ${downMs} ms (about 1.5 s expected)`);
  });

  test('a rig with NTLM waits (winbindWaitMs) until the rig holding winbindd stops', async () => {
    const first = await startRig({ schemes: ['ntlm'], winbindWaitMs: 120_000 });
    let secondUp = false;
    const second = startRig({ schemes: ['ntlm'], winbindWaitMs: 30_000 }).then((r) => ((secondUp = true), r));
    try {
      await sleep(500);
      assert.equal(secondUp, false, 'the second rig waits');
      // Regression: winbindd starts samba-dcerpcd on its own at start-up, and started a new one
      // while shutting down, after stop() had read the pid file: it outlived every quick start/stop.
      await first.stop();
      assert.deepEqual(processesNaming(first.dir), [], 'no samba-dcerpcd of the first rig is left');
    } finally {
      const r = await second;
      await r.stop();
      assert.deepEqual(processesNaming(r.dir), []);
    }
  });
});
