import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { isSymsrvError, SymsrvError } from '../errors.js';
import { RequestGuard } from './guard.js';
import { Transport } from './transport.js';

describe('RequestGuard and bad proxy URLs (issue 14 #10)', () => {
  test('regression: dispose() clears the timers timer() made, so none outlives its request', async () => {
    const guard = new RequestGuard('http://h/x', undefined, 0);
    guard.timer(5, () => new SymsrvError('E_TIMEOUT', 'late'));
    guard.dispose();
    await sleep(30);
    assert.equal(guard.reason, undefined, 'a timer fired after dispose()');
  });

  test('a proxy URL with a bad %-escape in its user name is E_USAGE for the library, not a URIError', async () => {
    assert.throws(
      () => new Transport({ proxies: { proxy: 'http://a%zz:pw@127.0.0.1:9' } }),
      (e) => isSymsrvError(e, 'E_USAGE') && /bad %-escape/.test((e as Error).message) && !/pw/.test((e as Error).message),
    );
  });

  test('regression: `fetch --proxy http://a%zz:pw@...` is a usage error (exit 2) and the process ends', () => {
    // It printed "internal error ... bug" (exit 3), then stayed alive for the 120 s headers timer.
    const r = spawnSync(process.execPath, [CLI, 'fetch', '--proxy', 'http://a%zz:pw@127.0.0.1:9', '-y', 'srv*/nonexistent-cache*http://127.0.0.1:1/s', '--key', 'a.pdb/AB1/a.pdb'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.signal, null, 'the process did not end by itself');
    assert.equal(r.status, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|bug|:pw@/);
    assert.match(r.stderr, /bad %-escape/);
  });
});
