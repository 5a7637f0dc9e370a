import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSymsrvError } from '../errors.js';
import { Transport } from './transport.js';

/**
 * Regression (issue 14, structure): library users saw a RangeError for a bad transport option
 * and a TypeError for a bad URL given to chooseProxy; bad input is E_USAGE. A timeout past
 * 2^31-1 ms made Node fire the timer at once; it is refused.
 */
for (const [name, options] of [
  ['a negative connectionsPerOrigin', { connectionsPerOrigin: -1 }],
  ['connectionsPerOrigin 0', { connectionsPerOrigin: 0 }],
  ['a NaN headersTimeout', { headersTimeout: NaN }],
  ['a negative retries', { retries: -1 }],
  ['a headersTimeout past 2^31-1 ms', { headersTimeout: 1e20 }],
] as const) {
  test(`${name} is E_USAGE`, () => {
    assert.throws(() => new Transport(options), (e) => isSymsrvError(e, 'E_USAGE'));
  });
}

test('chooseProxy on a text that is not a URL is E_USAGE', async () => {
  const t = new Transport();
  try {
    await assert.rejects(t.chooseProxy('not a url'), (e) => isSymsrvError(e, 'E_USAGE'));
  } finally {
    await t.close();
  }
});
