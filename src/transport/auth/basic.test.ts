import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSymsrvError } from '../../errors.js';
import { basicCredentials, createBasicSession } from './basic.js';
import { parseChallenges } from './challenge.js';
import type { AuthRequest, Challenge } from './types.js';

function challenge(header: string): Challenge {
  const [c] = parseChallenges(header);
  assert.ok(c);
  return c;
}

function request(uri = 'http://msdl.microsoft.com/download/symbols/x.pdb/ABC1/x.pdb'): AuthRequest {
  return { method: 'GET', uri };
}

const TINYPROXY = challenge('Basic realm="Tinyproxy"');

describe('basicCredentials', () => {
  test('RFC 7617 §2: Aladdin / open sesame', () => {
    assert.equal(basicCredentials({ user: 'Aladdin', password: 'open sesame' }), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });

  test('RFC 7617 §2.1: test / 123£ with charset="UTF-8"', () => {
    const c = challenge('Basic realm="foo", charset="UTF-8"');
    assert.equal(basicCredentials({ user: 'test', password: '123\u00a3' }, c), 'Basic dGVzdDoxMjPCow==');
  });

  test('UTF-8 without charset too', () => {
    assert.equal(basicCredentials({ user: 'test', password: '123\u00a3' }, TINYPROXY), 'Basic dGVzdDoxMjPCow==');
  });

  test('charset="UTF-8" normalizes to NFC; without it the password goes as typed', () => {
    const nfd = 'e\u0301'; // é as e + combining acute
    const utf8 = challenge('Basic realm="r", charset=utf-8');
    assert.equal(basicCredentials({ user: 'u', password: nfd }, utf8), basicCredentials({ user: 'u', password: '\u00e9' }));
    assert.notEqual(basicCredentials({ user: 'u', password: nfd }), basicCredentials({ user: 'u', password: '\u00e9' }));
  });

  test('DOMAIN\\user is sent as typed', () => {
    const header = basicCredentials({ user: 'alice', domain: 'CORP', password: 'pw' });
    assert.equal(Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8'), 'CORP\\alice:pw');
  });

  test('a colon in the user name is a usage error that does not show the name', () => {
    assert.throws(
      () => basicCredentials({ user: 'secret:name', password: 'hunter2' }),
      (err: unknown) => isSymsrvError(err, 'E_USAGE') && !err.message.includes('secret') && !err.message.includes('hunter2'),
    );
  });

  test('a colon in the password is fine (the proxy splits at the first one)', () => {
    const header = basicCredentials({ user: 'u', password: 'a:b' });
    assert.equal(Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8'), 'u:a:b');
  });
});

describe('createBasicSession', () => {
  const creds = { user: 'Aladdin', password: 'open sesame' };
  const expected = 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==';

  test('nothing pre-emptive before the first challenge', async () => {
    const s = createBasicSession(creds);
    assert.equal(s.scheme, 'basic');
    assert.equal(await s.respond(request(), undefined), undefined);
  });

  test('answers the challenge, then signs later requests up front', async () => {
    const s = createBasicSession(creds);
    assert.equal(await s.respond(request(), TINYPROXY), expected);
    for (let i = 0; i < 5; i++) assert.equal(await s.respond(request(`http://h/${i}`), undefined), expected);
    const connect: AuthRequest = { method: 'CONNECT', uri: 'msdl.microsoft.com:443' };
    assert.equal(await s.respond(connect, undefined), expected);
  });

  test('a challenge to a request that carried the header is a refusal: no loop, nothing after', async () => {
    const s = createBasicSession(creds);
    const r = request();
    assert.equal(await s.respond(r, TINYPROXY), expected);
    assert.equal(await s.respond(r, TINYPROXY), undefined);
    assert.equal(await s.respond(request(), undefined), undefined);
    assert.equal(await s.respond(request(), TINYPROXY), undefined);
  });

  test('a pre-emptively signed request that gets a challenge is a refusal too', async () => {
    const s = createBasicSession(creds);
    assert.equal(await s.respond(request(), TINYPROXY), expected);
    const r = request('http://h/2');
    assert.equal(await s.respond(r, undefined), expected);
    assert.equal(await s.respond(r, TINYPROXY), undefined);
    assert.equal(await s.respond(request('http://h/3'), undefined), undefined);
  });

  test('parallel requests sent before the first answer are answered, not taken for refusals', async () => {
    const s = createBasicSession(creds);
    const a = request('http://h/a');
    const b = request('http://h/b');
    assert.equal(await s.respond(a, undefined), undefined);
    assert.equal(await s.respond(b, undefined), undefined);
    assert.equal(await s.respond(a, TINYPROXY), expected);
    assert.equal(await s.respond(b, TINYPROXY), expected); // b went out bare: its 407 says nothing of our password
  });

  test('a challenge of another scheme is not answered and changes nothing', async () => {
    const s = createBasicSession(creds);
    assert.equal(await s.respond(request(), challenge('Digest realm="r", nonce="n"')), undefined);
    assert.equal(await s.respond(request(), undefined), undefined);
    assert.equal(await s.respond(request(), TINYPROXY), expected);
  });
});
