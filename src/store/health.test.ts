import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CRASH, startFixtureStore, type FixtureStore } from '../../test/helpers/fixture-store.js';
import { freePort } from '../../test/helpers/ports.js';
import { SymbolClient } from '../client.js';
import type { ProbeEvent } from './types.js';

// 20 keys of files no store has: each would cost an index2.txt and a file probe (or more).
const KEYS = Array.from({ length: 20 }, (_, i) => `k${i}.pdb/0123456789ABCDEF0123456789ABCDEF1/k${i}.pdb`);

describe('regression: a failing store is remembered, not asked again for every key (issue 14, structure)', () => {
  let store: FixtureStore;

  before(async () => {
    store = await startFixtureStore('symsrv-health-');
  });
  after(() => store?.stop());

  async function findAll(symbolPath: string, ttl?: number) {
    const probes: ProbeEvent[] = [];
    const client = new SymbolClient({
      symbolPath,
      transport: { retries: 0 },
      onProbe: (e) => void probes.push(e),
      ...(ttl !== undefined ? { storeFailureTtlMs: ttl } : {}),
    });
    try {
      const results = [];
      for (const k of KEYS) results.push(await client.find(k));
      return { results, probes };
    } finally {
      await client.close();
    }
  }

  test('a dead port: one failing probe, the other keys skip the store (and -v says so)', async () => {
    const port = await freePort(); // nothing listens there
    const { results, probes } = await findAll(`srv*${join(store.tmp, 'c1')}*http://127.0.0.1:${port}/store`);
    assert.ok(results.every((r) => r.status === 'error'));
    // The first key's index2.txt probe meets the refusal; it is remembered there.
    const asked = probes.filter((p) => p.target.startsWith('http') && !p.result.startsWith('skipped'));
    assert.ok(asked.length <= 1, asked.map((p) => `${p.target} ${p.result}`).join('\n'));
    const skipped = probes.filter((p) => p.result.startsWith('skipped'));
    assert.equal(skipped.length, KEYS.length - 1);
    assert.match(skipped[0]!.result, /ECONNREFUSED/);
  });

  test('a 403: one request in the origin log, then the store is skipped; a local store still answers', async () => {
    const count = async (): Promise<number> => (await readFile(store.nginx.accessLog, 'utf8')).split('\n').filter((l) => l.includes('/forbidden/')).length;
    const before = await count();
    const { results } = await findAll(`srv*${join(store.tmp, 'c2')}*${store.nginx.url}/forbidden`);
    assert.ok(results.every((r) => r.status === 'error' && r.error.status === 403));
    // index2.txt answered 403: remembered at once, no file probe, no other key's request.
    assert.equal((await count()) - before, 1);
  });

  test('a remembered failure expires (the library default is minutes, not the run)', async () => {
    const count = async (): Promise<number> => (await readFile(store.nginx.accessLog, 'utf8')).split('\n').filter((l) => l.includes('/forbidden/')).length;
    const before = await count();
    await findAll(`srv*${join(store.tmp, 'c3')}*${store.nginx.url}/forbidden`, 0);
    assert.ok((await count()) - before >= KEYS.length);
  });

  test('a working store is not affected: 404s are misses, not failures', async () => {
    const { results, probes } = await findAll(`srv*${join(store.tmp, 'c4')}*${store.nginx.url}/store`);
    assert.ok(results.every((r) => r.status === 'missing'));
    assert.equal(probes.filter((p) => p.result.startsWith('skipped')).length, 0);
    const client = new SymbolClient({ symbolPath: `srv*${join(store.tmp, 'c4')}*${store.nginx.url}/store` });
    try {
      assert.equal((await client.find(CRASH)).status, 'found');
    } finally {
      await client.close();
    }
  });
});
