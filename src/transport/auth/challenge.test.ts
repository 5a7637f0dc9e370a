import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { challengeFor, chooseScheme, negotiateMechanism, parseChallenges, parseUserSpec } from './challenge.js';
import type { Challenge } from './types.js';

describe('parseChallenges', () => {
  test('squid Digest', () => {
    assert.deepEqual(
      parseChallenges('Digest realm="symsrv-rig", nonce="bW9ja25vbmNl/+==", qop="auth", stale=false'),
      [{ scheme: 'digest', params: { realm: 'symsrv-rig', nonce: 'bW9ja25vbmNl/+==', qop: 'auth', stale: 'false' } }],
    );
  });

  test('Apache Digest', () => {
    assert.deepEqual(parseChallenges('Digest realm="symsrv-rig", nonce="aGVsbG8=", algorithm=MD5, qop="auth"'), [
      { scheme: 'digest', params: { realm: 'symsrv-rig', nonce: 'aGVsbG8=', algorithm: 'MD5', qop: 'auth' } },
    ]);
  });

  test('tinyproxy Basic', () => {
    assert.deepEqual(parseChallenges('Basic realm="Tinyproxy"'), [{ scheme: 'basic', params: { realm: 'Tinyproxy' } }]);
  });

  test('several fields, one challenge each (squid with NTLM and Negotiate helpers)', () => {
    assert.deepEqual(parseChallenges(['Negotiate', 'NTLM', 'Basic realm="Squid proxy-caching web server"']), [
      { scheme: 'negotiate', params: {} },
      { scheme: 'ntlm', params: {} },
      { scheme: 'basic', params: { realm: 'Squid proxy-caching web server' } },
    ]);
  });

  test('one field with four schemes, commas inside quoted values', () => {
    const header =
      'Negotiate, NTLM, Digest realm="a, b", nonce="x", qop="auth,auth-int", algorithm=MD5, Basic realm="r"';
    assert.deepEqual(parseChallenges(header), [
      { scheme: 'negotiate', params: {} },
      { scheme: 'ntlm', params: {} },
      { scheme: 'digest', params: { realm: 'a, b', nonce: 'x', qop: 'auth,auth-int', algorithm: 'MD5' } },
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
  });

  test('the string Node gives for repeated fields (joined with ", ") parses the same as the array', () => {
    const fields = ['NTLM', 'Digest realm="r", nonce="n", qop="auth"', 'Basic realm="r"'];
    assert.deepEqual(parseChallenges(fields.join(', ')), parseChallenges(fields));
  });

  test('token68: NTLM type 2 and Negotiate tokens, with = padding', () => {
    assert.deepEqual(parseChallenges('NTLM TlRMTVNTUAACAAAADAAMADAAAAA='), [
      { scheme: 'ntlm', params: {}, token: 'TlRMTVNTUAACAAAADAAMADAAAAA=' },
    ]);
    assert.deepEqual(parseChallenges('Negotiate YIIBCgYJKoZIhvcSAQICAQBuggEmMIIBIqADAgEF/+=='), [
      { scheme: 'negotiate', params: {}, token: 'YIIBCgYJKoZIhvcSAQICAQBuggEmMIIBIqADAgEF/+==' },
    ]);
    assert.deepEqual(parseChallenges('Negotiate abc, Basic realm="x"'), [
      { scheme: 'negotiate', params: {}, token: 'abc' },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
  });

  test('scheme and parameter names are case-insensitive (lower-cased), values are kept as sent', () => {
    assert.deepEqual(parseChallenges('DIGEST Realm="R", NONCE="AbC", Algorithm=md5-SESS, QoP=AUTH'), [
      { scheme: 'digest', params: { realm: 'R', nonce: 'AbC', algorithm: 'md5-SESS', qop: 'AUTH' } },
    ]);
  });

  test('quoted-pairs are unescaped', () => {
    assert.deepEqual(parseChallenges('Basic realm="say \\"hi\\" to C:\\\\proxy"'), [
      { scheme: 'basic', params: { realm: 'say "hi" to C:\\proxy' } },
    ]);
  });

  test('whitespace around = and empty list elements (RFC 9110 §5.6.1) are allowed', () => {
    assert.deepEqual(parseChallenges(' ,Digest  realm = "r" ,, nonce=\t"n" , , Basic\trealm="b",'), [
      { scheme: 'digest', params: { realm: 'r', nonce: 'n' } },
      { scheme: 'basic', params: { realm: 'b' } },
    ]);
  });

  test('unquoted values that are not tokens (as some proxies send nonces) are kept', () => {
    assert.deepEqual(parseChallenges('Digest nonce=ab/cd+ef==, realm=proxy'), [
      { scheme: 'digest', params: { nonce: 'ab/cd+ef==', realm: 'proxy' } },
    ]);
  });

  test('a repeated parameter keeps its first value', () => {
    assert.deepEqual(parseChallenges('Digest realm="a", realm="b", nonce="n"'), [
      { scheme: 'digest', params: { realm: 'a', nonce: 'n' } },
    ]);
  });

  test('unknown schemes are returned too (Bearer, with its params)', () => {
    assert.deepEqual(parseChallenges('Bearer realm="x", error="invalid_token", Basic realm="y"'), [
      { scheme: 'bearer', params: { realm: 'x', error: 'invalid_token' } },
      { scheme: 'basic', params: { realm: 'y' } },
    ]);
  });

  test('nothing, empty, whitespace', () => {
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges(''), []);
    assert.deepEqual(parseChallenges([]), []);
    assert.deepEqual(parseChallenges(' \t , ,'), []);
  });

  test('junk is skipped, what can be parsed is kept', () => {
    assert.deepEqual(parseChallenges('"junk", Basic realm="r"'), [{ scheme: 'basic', params: { realm: 'r' } }]);
    assert.deepEqual(parseChallenges('realm="orphan", NTLM'), [{ scheme: 'ntlm', params: {} }]);
    // A scheme glued to a quote is no scheme; the params after it belong to nothing.
    assert.deepEqual(parseChallenges('Basic"x", realm="y", NTLM'), [{ scheme: 'ntlm', params: {} }]);
    // Junk after a value is dropped up to the next comma; the value stays.
    assert.deepEqual(parseChallenges('Digest realm="r" garbage here, nonce="n"'), [
      { scheme: 'digest', params: { realm: 'r', nonce: 'n' } },
    ]);
    // A parameter without a value is dropped.
    assert.deepEqual(parseChallenges('Digest nonce="n", realm=, qop="auth"'), [
      { scheme: 'digest', params: { nonce: 'n', qop: 'auth' } },
    ]);
    // ...except right after the scheme, where `name=` is a token68 by the grammar (RFC 9110 §11.2).
    assert.deepEqual(parseChallenges('Foo bar='), [{ scheme: 'foo', params: {}, token: 'bar=' }]);
  });

  test('an unterminated quoted-string ends the field without throwing', () => {
    assert.deepEqual(parseChallenges('Digest nonce="n", realm="never closed'), [{ scheme: 'digest', params: { nonce: 'n' } }]);
    assert.deepEqual(parseChallenges('Basic realm="abc\\'), [{ scheme: 'basic', params: {} }]);
    // A missing closing quote pairs with the next opening one: the grammar's reading, kept.
    assert.deepEqual(parseChallenges('Digest nonce="n", realm="oops, Basic realm="x"'), [
      { scheme: 'digest', params: { nonce: 'n', realm: 'oops, Basic realm=' } },
    ]);
  });

  test('__proto__ as a parameter name does not touch the prototype', () => {
    const [c] = parseChallenges('Basic __proto__="x", realm="r"');
    assert.ok(c);
    assert.equal(Object.getPrototypeOf(c.params), Object.prototype);
    assert.deepEqual(c.params, { realm: 'r' });
  });

  test('malformed input never throws (fuzz)', () => {
    const alphabet = ['Basic', 'Digest', 'NTLM', ' ', '\t', ',', '=', '"', '\\', 'realm', 'x', '==', '\u00ff', '\u20ac', ';'];
    let seed = 42;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const n = next() % 20;
      for (let j = 0; j < n; j++) s += alphabet[next() % alphabet.length];
      const out = parseChallenges(s);
      for (const c of out) {
        assert.match(c.scheme, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
        for (const v of Object.values(c.params)) assert.equal(typeof v, 'string');
      }
    }
    // Non-strings in an array (a caller's mistake) are ignored.
    assert.deepEqual(parseChallenges([undefined as unknown as string, 'Basic realm="r"']), [
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
  });
});

describe('parseUserSpec', () => {
  test('DOMAIN\\user splits off the domain', () => {
    assert.deepEqual(parseUserSpec('CORP\\alice'), { user: 'alice', domain: 'CORP' });
    assert.deepEqual(parseUserSpec('corp.example.com\\alice'), { user: 'alice', domain: 'corp.example.com' });
  });

  test('user@REALM stays whole (UPN form)', () => {
    assert.deepEqual(parseUserSpec('alice@CORP.EXAMPLE.COM'), { user: 'alice@CORP.EXAMPLE.COM' });
  });

  test('plain user, and backslashes at either end', () => {
    assert.deepEqual(parseUserSpec('alice'), { user: 'alice' });
    assert.deepEqual(parseUserSpec('\\alice'), { user: '\\alice' });
    assert.deepEqual(parseUserSpec('CORP\\'), { user: 'CORP\\' });
    assert.deepEqual(parseUserSpec(''), { user: '' });
  });

  test('only the first backslash separates', () => {
    assert.deepEqual(parseUserSpec('CORP\\a\\b'), { user: 'a\\b', domain: 'CORP' });
  });
});

describe('chooseScheme', () => {
  const all = parseChallenges(
    'Basic realm="r", Digest realm="r", nonce="n", qop="auth", NTLM, Negotiate, Bearer realm="x"',
  );

  test('strongest first by default; unknown schemes left out', () => {
    assert.deepEqual(chooseScheme(all), ['negotiate', 'ntlm', 'digest', 'basic']);
  });

  test('--proxy-auth LIST filters and keeps its own order', () => {
    assert.deepEqual(chooseScheme(all, ['basic', 'digest']), ['basic', 'digest']);
    assert.deepEqual(chooseScheme(all, ['digest', 'digest']), ['digest']);
    assert.deepEqual(chooseScheme(parseChallenges('Basic realm="r"'), ['ntlm']), []);
  });

  test('nothing offered, nothing chosen', () => {
    assert.deepEqual(chooseScheme([]), []);
  });

  test('Digest counts only when one of its challenges can be answered', () => {
    assert.deepEqual(chooseScheme(parseChallenges('Digest realm="r", nonce="n", qop="auth-int", Basic realm="r"')), ['basic']);
    assert.deepEqual(chooseScheme(parseChallenges('Digest realm="r", nonce="n", algorithm=SHA-1')), []);
    assert.deepEqual(chooseScheme(parseChallenges('Digest realm="r"')), []); // no nonce
  });
});

describe('challengeFor', () => {
  test('the first challenge of the scheme', () => {
    const offered: Challenge[] = parseChallenges(['NTLM', 'Basic realm="a"', 'Basic realm="b"']);
    assert.deepEqual(challengeFor(offered, 'basic'), { scheme: 'basic', params: { realm: 'a' } });
    assert.deepEqual(challengeFor(offered, 'ntlm'), { scheme: 'ntlm', params: {} });
    assert.equal(challengeFor(offered, 'negotiate'), undefined);
  });

  test('for Digest, the strongest usable algorithm', () => {
    const offered = parseChallenges([
      'Digest realm="r", nonce="1", algorithm=MD5, qop="auth"',
      'Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth"',
      'Digest realm="r", nonce="3", algorithm=SHA-1, qop="auth"',
    ]);
    assert.equal(challengeFor(offered, 'digest')?.params['nonce'], '2');
  });
});

describe('negotiateMechanism: Kerberos, NTLM inside Negotiate, or nothing', () => {
  const m = (kerberosUnavailable: boolean, credentials: boolean, ntlmOffered: boolean | undefined, ntlmInsideFailed = false) =>
    negotiateMechanism({ kerberosUnavailable, credentials, ntlmOffered, ntlmInsideFailed });

  test('Kerberos first while it may work; NTLM inside only as its fallback, on a proxy known to offer no plain NTLM', () => {
    assert.equal(m(false, false, undefined), 'kerberos');
    assert.equal(m(false, true, undefined), 'kerberos', 'a first message to an unknown proxy does not guess NTLM inside');
    assert.equal(m(false, true, true), 'kerberos', 'plain NTLM is offered: it stays the fallback');
    assert.equal(m(false, true, false), 'kerberos-then-ntlm');
    assert.equal(m(false, false, false), 'kerberos', 'no credentials, no NTLM');
  });

  test('Kerberos known not to work: NTLM inside Negotiate when it can be used, else nothing', () => {
    assert.equal(m(true, true, false), 'ntlm');
    assert.equal(m(true, true, true), undefined, 'the plain NTLM scheme answers instead');
    assert.equal(m(true, true, undefined), undefined);
    assert.equal(m(true, false, false), undefined, 'no credentials');
    assert.equal(m(true, true, false, true), undefined, "the proxy's Negotiate already ignored an NTLM Type 1");
    assert.equal(m(false, true, false, true), 'kerberos');
  });
});
