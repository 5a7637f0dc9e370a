import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, getHashes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startDigestServer, type DigestServer } from '../../../test/helpers/lighttpd.js';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { parseChallenges } from './challenge.js';
import { createDigestSession, pickDigestChallenge } from './digest.js';
import type { AuthRequest, Challenge } from './types.js';

function challenge(header: string): Challenge {
  const [c] = parseChallenges(header);
  assert.ok(c);
  return c;
}

/** The fields of a `Digest ...` header we produced, read back with the challenge parser. */
function fields(header: string | undefined): Record<string, string> {
  assert.ok(header !== undefined, 'expected a header');
  assert.match(header, /^Digest /);
  return challenge(header).params;
}

function hex(hash: string, s: string): string {
  return createHash(hash).update(s, 'utf8').digest('hex');
}

const get = (uri: string): AuthRequest => ({ method: 'GET', uri });
const HAS_SHA512_256 = getHashes().includes('sha512-256');

// RFC 7616 §3.9.1 (password "Circle of Life", lower-case "of": erratum 4495).
const RFC7616 = {
  creds: { user: 'Mufasa', password: 'Circle of Life' },
  challenge: (algorithm: string): Challenge =>
    challenge(
      `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    ),
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  request: get('/dir/index.html'),
};

describe('Digest: worked examples', () => {
  test('RFC 7616 §3.9.1, MD5', async () => {
    const s = createDigestSession(RFC7616.creds, { cnonce: () => RFC7616.cnonce });
    const header = await s.respond(RFC7616.request, RFC7616.challenge('MD5'));
    assert.equal(
      header,
      'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=MD5, ' +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ' +
        'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, ' +
        'response="8ca523f5e9506fed4657c9700eebdbec", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
  });

  test('RFC 7616 §3.9.1, SHA-256', async () => {
    const s = createDigestSession(RFC7616.creds, { cnonce: () => RFC7616.cnonce });
    const f = fields(await s.respond(RFC7616.request, RFC7616.challenge('SHA-256')));
    assert.equal(f['response'], '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    assert.equal(f['algorithm'], 'SHA-256');
    assert.equal(f['qop'], 'auth');
    assert.equal(f['nc'], '00000001');
    assert.equal(f['opaque'], 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS');
  });

  test('RFC 7616 §3.9.1: of its two challenges (SHA-256, then MD5) SHA-256 is chosen', () => {
    const offered = [RFC7616.challenge('SHA-256'), RFC7616.challenge('MD5')];
    assert.equal(pickDigestChallenge(offered)?.params['algorithm'], 'SHA-256');
    assert.equal(pickDigestChallenge([...offered].reverse())?.params['algorithm'], 'SHA-256');
  });

  test('RFC 2617 §3.5 (MD5, qop=auth, no algorithm named)', async () => {
    const s = createDigestSession({ user: 'Mufasa', password: 'Circle Of Life' }, { cnonce: () => '0a4f113b' });
    const c = challenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    const header = await s.respond(get('/dir/index.html'), c);
    assert.equal(
      header,
      'Digest username="Mufasa", realm="testrealm@host.com", uri="/dir/index.html", ' +
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", nc=00000001, cnonce="0a4f113b", qop=auth, ' +
        'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
  });

  test('RFC 2069 form (no qop): no nc, cnonce or qop', async () => {
    const s = createDigestSession({ user: 'Mufasa', password: 'CircleOfLife' }, { cnonce: () => assert.fail('no cnonce without qop') });
    const c = challenge(
      'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    const header = await s.respond(get('/dir/index.html'), c);
    // The value of the digest-access crate's rfc2069 test; recomputed below from the RFC 2069 formula.
    const ha1 = hex('md5', 'Mufasa:testrealm@host.com:CircleOfLife');
    const ha2 = hex('md5', 'GET:/dir/index.html');
    assert.equal(hex('md5', `${ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:${ha2}`), '1949323746fe6a43ef61f9606e7febea');
    assert.equal(
      header,
      'Digest username="Mufasa", realm="testrealm@host.com", uri="/dir/index.html", ' +
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", response="1949323746fe6a43ef61f9606e7febea", ' +
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
  });

  // RFC 7616 §3.9.2. The username hash and response printed in the RFC cannot be had from its
  // inputs (erratum 4897, reported); these are the erratum's values, which the inputs do give.
  const RFC7616_USERHASH = {
    creds: { user: 'J\u00e4s\u00f8n Doe', password: 'Secret, or not?' },
    challenge: (userhash: boolean): Challenge =>
      challenge(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, ' +
          'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", ' +
          `charset=UTF-8, userhash=${userhash}`,
      ),
    cnonce: 'NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v',
    response: '3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5',
  };

  test('RFC 7616 §3.9.2, SHA-512-256 with userhash=true', { skip: !HAS_SHA512_256 && 'no sha512-256 in this Node' }, async () => {
    const s = createDigestSession(RFC7616_USERHASH.creds, { cnonce: () => RFC7616_USERHASH.cnonce });
    const f = fields(await s.respond(get('/doe.json'), RFC7616_USERHASH.challenge(true)));
    assert.equal(f['username'], '793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b');
    assert.equal(f['userhash'], 'true');
    assert.equal(f['algorithm'], 'SHA-512-256');
    assert.equal(f['response'], RFC7616_USERHASH.response);
  });

  test('RFC 7616 §3.9.2, without userhash: username* (RFC 8187) and the same response', { skip: !HAS_SHA512_256 && 'no sha512-256 in this Node' }, async () => {
    const s = createDigestSession(RFC7616_USERHASH.creds, { cnonce: () => RFC7616_USERHASH.cnonce });
    const header = await s.respond(get('/doe.json'), RFC7616_USERHASH.challenge(false));
    assert.ok(header?.startsWith("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, "), header);
    assert.equal(fields(header)['response'], RFC7616_USERHASH.response);
    assert.equal(fields(header)['userhash'], undefined);
  });
});

describe('Digest: session', () => {
  const creds = { user: 'alice', password: 'pw' };
  const squid = (nonce: string, stale = false): Challenge =>
    challenge(`Digest realm="symsrv-rig", nonce="${nonce}", qop="auth", stale=${stale ? 'TRUE' : 'false'}`);
  let n = 0;
  const counter = (): string => `cn${++n}`;

  test('nothing pre-emptive before the first challenge', async () => {
    const s = createDigestSession(creds);
    assert.equal(s.scheme, 'digest');
    assert.equal(await s.respond(get('http://h/a'), undefined), undefined);
  });

  test('later requests are signed up front with the stored nonce and the next nc', async () => {
    const s = createDigestSession(creds, { cnonce: counter });
    const first = fields(await s.respond(get('http://h/0'), squid('N1')));
    assert.equal(first['nc'], '00000001');
    const seen = new Set([first['cnonce']]);
    for (let i = 2; i <= 20; i++) {
      const uri = `http://h/${i}`;
      const f = fields(await s.respond(get(uri), undefined));
      assert.equal(f['nonce'], 'N1');
      assert.equal(f['nc'], i.toString(16).padStart(8, '0'));
      assert.equal(f['uri'], uri);
      seen.add(f['cnonce']);
      // Each one a valid answer for its own nc and cnonce.
      const ha1 = hex('md5', 'alice:symsrv-rig:pw');
      const ha2 = hex('md5', `GET:${uri}`);
      assert.equal(f['response'], hex('md5', `${ha1}:N1:${f['nc']}:${f['cnonce']}:auth:${ha2}`));
    }
    assert.equal(seen.size, 20, 'a fresh cnonce per request');
  });

  test('the default cnonce is 16 random bytes in hex', async () => {
    const s = createDigestSession(creds);
    const a = fields(await s.respond(get('http://h/a'), squid('N')))['cnonce'];
    const b = fields(await s.respond(get('http://h/b'), undefined))['cnonce'];
    assert.match(a ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(a, b);
  });

  test('stale=true: the new nonce is taken, nc starts again, and it is not a refusal', async () => {
    const s = createDigestSession(creds, { cnonce: counter });
    await s.respond(get('http://h/0'), squid('N1'));
    const r = get('http://h/1');
    assert.equal(fields(await s.respond(r, undefined))['nc'], '00000002');
    const again = fields(await s.respond(r, squid('N2', true)));
    assert.equal(again['nonce'], 'N2');
    assert.equal(again['nc'], '00000001');
    const next = fields(await s.respond(get('http://h/2'), undefined));
    assert.equal(next['nonce'], 'N2');
    assert.equal(next['nc'], '00000002');
  });

  test('a non-stale challenge to a request that carried our answer is a refusal: undefined from then on', async () => {
    const s = createDigestSession(creds);
    const r = get('http://h/0');
    assert.ok(await s.respond(r, squid('N1')));
    assert.equal(await s.respond(r, squid('N2')), undefined);
    assert.equal(await s.respond(get('http://h/1'), undefined), undefined);
    assert.equal(await s.respond(get('http://h/2'), squid('N3')), undefined);
  });

  test('a pre-emptively signed request that gets a non-stale challenge is a refusal too', async () => {
    const s = createDigestSession(creds);
    assert.ok(await s.respond(get('http://h/0'), squid('N1')));
    const r = get('http://h/1');
    assert.ok(await s.respond(r, undefined));
    assert.equal(await s.respond(r, squid('N1')), undefined);
    assert.equal(await s.respond(get('http://h/2'), undefined), undefined);
  });

  test('a request that went out bare is answered (parallel requests before the first answer)', async () => {
    const s = createDigestSession(creds, { cnonce: counter });
    const a = get('http://h/a');
    const b = get('http://h/b');
    assert.equal(await s.respond(a, undefined), undefined);
    assert.equal(await s.respond(b, undefined), undefined);
    assert.equal(fields(await s.respond(a, squid('N1')))['nc'], '00000001');
    // Same nonce again (the proxy repeats it): keep counting, never reuse an nc.
    assert.equal(fields(await s.respond(b, squid('N1')))['nc'], '00000002');
  });

  test('stale=true over and over stops after a few rounds (a proxy bug must not loop)', async () => {
    const s = createDigestSession(creds);
    const r = get('http://h/0');
    assert.ok(await s.respond(r, squid('N0')));
    for (let i = 1; i <= 3; i++) assert.ok(await s.respond(r, squid(`N${i}`, true)), `stale round ${i}`);
    assert.equal(await s.respond(r, squid('N4', true)), undefined);
    assert.ok(await s.respond(get('http://h/1'), undefined), 'the session itself is not refused');
  });

  test('CONNECT: uri is host:port, exactly as sent', async () => {
    const s = createDigestSession(creds, { cnonce: () => 'c' });
    const req: AuthRequest = { method: 'CONNECT', uri: 'msdl.microsoft.com:443' };
    const f = fields(await s.respond(req, squid('N')));
    assert.equal(f['uri'], 'msdl.microsoft.com:443');
    const ha1 = hex('md5', 'alice:symsrv-rig:pw');
    const ha2 = hex('md5', 'CONNECT:msdl.microsoft.com:443');
    assert.equal(f['response'], hex('md5', `${ha1}:N:00000001:c:auth:${ha2}`));
  });

  test('qop: auth is chosen when offered with auth-int; auth-int alone is not answered', async () => {
    const both = challenge('Digest realm="r", nonce="n", qop="auth-int, auth"');
    assert.equal(fields(await createDigestSession(creds).respond(get('/'), both))['qop'], 'auth');
    const intOnly = challenge('Digest realm="r", nonce="n", qop="auth-int"');
    assert.equal(await createDigestSession(creds).respond(get('/'), intOnly), undefined);
    assert.equal(pickDigestChallenge([intOnly]), undefined);
  });

  test('unknown algorithms and challenges without a nonce are not answered', async () => {
    for (const h of ['Digest realm="r", nonce="n", algorithm=SHA-1', 'Digest realm="r", qop="auth"', 'Basic realm="r"']) {
      assert.equal(await createDigestSession(creds).respond(get('/'), challenge(h)), undefined, h);
    }
  });

  test('several Digest challenges: the strongest supported algorithm', () => {
    const offered = parseChallenges([
      'Digest realm="r", nonce="1", algorithm=MD5-sess, qop="auth"',
      'Digest realm="r", nonce="2", algorithm=SHA-256-sess, qop="auth"',
      'Digest realm="r", nonce="3", algorithm=SHA-256, qop="auth"',
      'Digest realm="r", nonce="4", algorithm=SHA-512-256, qop="auth-int"',
      'Basic realm="r"',
    ]);
    assert.equal(pickDigestChallenge(offered)?.params['nonce'], '2', 'the first offered among equals; auth-int alone skipped');
    const withSha512 = [...offered, challenge('Digest realm="r", nonce="5", algorithm=SHA-512-256, qop="auth"')];
    assert.equal(pickDigestChallenge(withSha512)?.params['nonce'], HAS_SHA512_256 ? '5' : '2');
    assert.equal(pickDigestChallenge(parseChallenges('Basic realm="r", NTLM')), undefined);
  });

  test('MD5-sess: A1 covers nonce and cnonce; the cnonce stays for the life of the nonce', async () => {
    const s = createDigestSession(creds, { cnonce: counter });
    const c = challenge('Digest realm="r", nonce="N", algorithm=MD5-sess, qop="auth"');
    const a = fields(await s.respond(get('/a'), c));
    const b = fields(await s.respond(get('/b'), undefined));
    assert.equal(a['algorithm'], 'MD5-sess');
    assert.equal(a['cnonce'], b['cnonce']);
    const cnonce = a['cnonce'] ?? '';
    const ha1 = hex('md5', `${hex('md5', 'alice:r:pw')}:N:${cnonce}`);
    assert.equal(a['response'], hex('md5', `${ha1}:N:00000001:${cnonce}:auth:${hex('md5', 'GET:/a')}`));
    assert.equal(b['response'], hex('md5', `${ha1}:N:00000002:${cnonce}:auth:${hex('md5', 'GET:/b')}`));
  });

  test('-sess without qop cannot be answered consistently: not answered', async () => {
    const c = challenge('Digest realm="r", nonce="N", algorithm=MD5-sess');
    assert.equal(await createDigestSession(creds).respond(get('/'), c), undefined);
  });

  test('algorithm given quoted and in any case is understood and named back canonically', async () => {
    const c = challenge('Digest realm="r", nonce="N", algorithm="sha-256", qop=auth');
    const f = fields(await createDigestSession(creds, { cnonce: () => 'c' }).respond(get('/'), c));
    assert.equal(f['algorithm'], 'SHA-256');
    const ha1 = hex('sha256', 'alice:r:pw');
    assert.equal(f['response'], hex('sha256', `${ha1}:N:00000001:c:auth:${hex('sha256', 'GET:/')}`));
  });

  test('DOMAIN\\user and quotes: sent as typed, escaped in the quoted-string, hashed unescaped', async () => {
    const s = createDigestSession({ user: 'al"ice', domain: 'CORP', password: 'pw' }, { cnonce: () => 'c' });
    const header = await s.respond(get('/'), challenge('Digest realm="r", nonce="N", qop="auth"'));
    assert.ok(header?.startsWith('Digest username="CORP\\\\al\\"ice", '), header);
    const f = fields(header);
    assert.equal(f['username'], 'CORP\\al"ice');
    const ha1 = hex('md5', 'CORP\\al"ice:r:pw');
    assert.equal(f['response'], hex('md5', `${ha1}:N:00000001:c:auth:${hex('md5', 'GET:/')}`));
  });

  test('a non-ASCII name to an RFC 2617 proxy: its UTF-8 octets in the quoted-string', async () => {
    const s = createDigestSession({ user: 'j\u00f6rg', password: 'pw' }, { cnonce: () => 'c' });
    const header = await s.respond(get('/'), challenge('Digest realm="r", nonce="N", qop="auth"'));
    assert.ok(header?.startsWith('Digest username="j\u00c3\u00b6rg", '), header);
    const f = fields(header);
    const ha1 = hex('md5', 'j\u00f6rg:r:pw');
    assert.equal(f['response'], hex('md5', `${ha1}:N:00000001:c:auth:${hex('md5', 'GET:/')}`));
  });

  test('a control character in the name never reaches the header raw', async () => {
    const s = createDigestSession({ user: 'a\r\nX-Injected: 1', password: 'pw' });
    const header = await s.respond(get('/'), challenge('Digest realm="r", nonce="N", qop="auth"'));
    assert.ok(header?.startsWith("Digest username*=UTF-8''a%0D%0AX-Injected%3A%201, "), header);
    assert.doesNotMatch(header ?? '', /[\r\n]/);
  });

  test('the password never appears in the header', async () => {
    const password = 'correct-horse-battery-staple';
    const s = createDigestSession({ user: 'u', password });
    const header = await s.respond(get('/'), challenge('Digest realm="r", nonce="N", qop="auth"'));
    assert.ok(header);
    assert.ok(!header.includes(password));
  });

  test('a realm or nonce with a control character is not echoed', async () => {
    const c: Challenge = { scheme: 'digest', params: { realm: 'r', nonce: 'N\r\nX: 1', qop: 'auth' } };
    assert.equal(await createDigestSession(creds).respond(get('/'), c), undefined);
  });
});

// SHA-256 against an independent implementation: lighttpd's mod_auth (test/helpers/lighttpd.ts),
// since squid's Digest has MD5 only. curl checks the server first.
describe('Digest SHA-256 checked by lighttpd', () => {
  let dir: string;
  let server: DigestServer;
  const user = { user: 'alice', password: 'Circle of Life' };

  before(async () => {
    dir = await makeTempDir('symsrv-digest-');
    server = await startDigestServer(dir, { ...user, realm: 'symsrv-test', algorithm: 'SHA-256' });
    const ref = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--digest', '-u', `${user.user}:${user.password}`, `${server.url}/x.bin`], { encoding: 'utf8' });
    assert.equal(ref.stdout, '200', `curl --digest against lighttpd: ${ref.stdout} ${ref.stderr}`);
  });
  after(async () => {
    await server?.stop();
    if (dir) await removeDir(dir);
  });

  /** A GET with an optional Authorization header: the status, and the challenge when 401. */
  async function fetchWith(path: string, authorization?: string): Promise<{ status: number; challenge?: Challenge; body: string }> {
    const res = await fetch(`${server.url}${path}`, authorization ? { headers: { authorization } } : {});
    const header = res.headers.get('www-authenticate');
    return { status: res.status, body: await res.text(), ...(header ? { challenge: challenge(header) } : {}) };
  }

  test('the challenge asks for SHA-256; our answer is accepted, and so is the next one signed up front (nc=2)', async () => {
    const first = await fetchWith('/x.bin');
    assert.equal(first.status, 401);
    assert.equal(first.challenge?.params['algorithm'], 'SHA-256');
    const session = createDigestSession(user);
    const answer = await session.respond({ method: 'GET', uri: '/x.bin' }, first.challenge);
    assert.equal(fields(answer).algorithm, 'SHA-256');
    const ok = await fetchWith('/x.bin', answer);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'hello from lighttpd\n');
    const next = await session.respond({ method: 'GET', uri: '/x.bin' }, undefined);
    assert.equal(fields(next).nc, '00000002');
    assert.equal((await fetchWith('/x.bin', next)).status, 200);
  });

  test('a wrong password is refused by lighttpd', async () => {
    const first = await fetchWith('/x.bin');
    const answer = await createDigestSession({ user: 'alice', password: 'wrong' }).respond({ method: 'GET', uri: '/x.bin' }, first.challenge);
    assert.equal((await fetchWith('/x.bin', answer)).status, 401);
  });
});
