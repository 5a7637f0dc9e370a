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
    // regression: the mask stopped at `;`, `*` and spaces (the URL's authority runs to / ? # \\)
    ['srv*c*https://user:p;w@h/x', 'srv*c*https://***@h/x'],
    ['srv*c*https://user:p*w@h/x', 'srv*c*https://***@h/x'],
    ['srv*c*https://user:p w@h/x;other', 'srv*c*https://***@h/x;other'],
    ['GET https://u:pw@[h/x: bad', 'GET https://***@[h/x: bad'],
    ['srv*https://a:b@h*https://c:d@o/', 'srv*https://***@h*https://***@o/'],
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
    // malformed: new URL fails, the userinfo still goes
    ['https://u:p;w*x y@[h/x', 'https://[h/x'],
    ['http://a%zz:pw@h:99999/', 'http://h:99999/'],
  ];
  for (const [url, shown] of cases) test(`${url} -> ${shown}`, () => assert.equal(redactUrl(url), shown));
});
