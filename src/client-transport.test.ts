import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSymsrvError } from './errors.js';
import { SymbolClient } from './client.js';
import { Transport } from './transport/transport.js';

/**
 * Regression (issue 14 #12): a Transport instance given to SymbolClient silently disabled the
 * client's proxy, proxyCredentials, prompt and noPrompts options, and setOptions({ proxy })
 * did nothing. The combination is now refused, naming what to do instead.
 */
const usage = (e: unknown): boolean => isSymsrvError(e, 'E_USAGE') && /Transport instance/.test((e as Error).message);

for (const [name, extra] of [
  ['proxy', { proxy: 'http://127.0.0.1:3128' }],
  ['proxyCredentials', { proxyCredentials: { user: 'u', password: 'p' } }],
  ['prompt', { prompt: async () => null }],
  ['noPrompts', { noPrompts: true }],
] as const) {
  test(`a Transport instance with the client option ${name} is refused`, async () => {
    const transport = new Transport();
    try {
      assert.throws(() => new SymbolClient({ symbolPath: 'srv*/tmp/c*http://127.0.0.1:1/s', transport, ...extra }), usage);
    } finally {
      await transport.close();
    }
  });
}

test('setOptions({ proxy }) and ({ noPrompts }) on a client built on a Transport instance are refused', async () => {
  const transport = new Transport();
  const client = new SymbolClient({ symbolPath: 'srv*/tmp/c*http://127.0.0.1:1/s', transport });
  try {
    await assert.rejects(client.setOptions({ proxy: 'http://127.0.0.1:3128' }), usage);
    await assert.rejects(client.setOptions({ noPrompts: true }), usage);
    await client.setOptions({ symbolPath: 'srv*/tmp/d*http://127.0.0.1:1/s' }); // still fine
  } finally {
    await client.close();
    await transport.close();
  }
});
