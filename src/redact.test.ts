import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasUserinfo, maskUserinfo, redactUrl } from './redact.js';

describe('maskUserinfo (PAC file names, proxy specs, symbol paths)', () => {
  const cases: [string, string][] = [
    ['http://alice:hunter2@proxy:3128', 'http://***@proxy:3128'],
    ['http://alice:p@ss@proxy:3128/x', 'http://***@proxy:3128/x'],
    ['alice:hunter2@proxy:3128', '***@proxy:3128'],
    ['http://proxy:3128/a@b', 'http://proxy:3128/a@b'],
    ['http://proxy:3128', 'http://proxy:3128'],
    ['C:\\pac\\corp.pac', 'C:\\pac\\corp.pac'],
  ];
  for (const [text, shown] of cases) {
    test(`${text} -> ${shown}`, () => assert.equal(maskUserinfo(text), shown));
  }
});
describe('maskUserinfo leaves paths alone', () => {
  for (const text of ['C:\\Users\\me@corp\\sym', '/home/me@corp/sym', 'srv*C:\\sym*https://msdl.microsoft.com/download/symbols']) {
    test(text, () => {
      assert.equal(maskUserinfo(text), text);
      assert.equal(hasUserinfo(text), false);
    });
  }
});

describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['https://alice:hunter2@msdl.example/s', 'https://msdl.example/s'],
    ['http://proxy:3128/', 'http://proxy:3128/'],
    // a proxy given without a scheme: `new URL` would take "alice:" for the scheme and keep the password
    ['alice:hunter2@proxy:3128', 'proxy:3128'],
    ['proxy:3128', 'proxy:3128'],
  ];
  for (const [url, shown] of cases) test(`${url} -> ${shown}`, () => assert.equal(redactUrl(url), shown));
});
