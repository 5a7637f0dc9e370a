import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as api from './index.js';
import type { CredentialPrompt, CredentialRequest, GetOptions, ProxyChoice, ProxyOptions, SchemeName, Store, SymbolClientOptions, TransportOptions } from './index.js';

/**
 * The public surface names every type its options use (issue 14: a caller writing a prompt
 * could not name CredentialPrompt or CredentialRequest without a deep import). This file fails
 * to compile when one of them is not exported.
 */
test('the types the public options use are exported from the package entry', async () => {
  const prompt: CredentialPrompt = async (req: CredentialRequest) => (req.schemes.includes('Basic') ? { user: 'u', password: 'p' } : null);
  const proxies: ProxyOptions = { proxy: 'direct', proxyAuth: ['basic' satisfies SchemeName] };
  const transport: TransportOptions = { proxies };
  const options: SymbolClientOptions = { symbolPath: 'srv*/tmp/c*http://127.0.0.1:1/s', prompt, transport };
  const onProxy: GetOptions['onProxy'] = (choice: ProxyChoice) => void choice.source;
  const describe = (s: Store): string => s.location;
  const client = new api.SymbolClient(options);
  await client.close();
  assert.equal(typeof onProxy, 'function');
  assert.equal(typeof describe, 'function');
});
