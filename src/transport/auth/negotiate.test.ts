import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startKdc, type Kdc } from '../../../test/helpers/kdc.js';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { createNegotiateSession, loadKerberos, servicePrincipalName, type KerberosClientLike, type KerberosLike } from './negotiate.js';
import { buildChallenge, hex, readType3, u16 } from '../../../test/helpers/ntlm.js';
import { negotiateMessage } from './ntlm-messages.js';
import type { AuthRequest, Challenge } from './types.js';

const REQ: AuthRequest = { method: 'CONNECT', uri: 'origin.test:443' };
const negotiate = (token?: string): Challenge => ({ scheme: 'negotiate', params: {}, ...(token === undefined ? {} : { token }) });

/** Sets environment variables for the duration of `fn` (MIT libkrb5 reads them when a context is created), then restores them. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A stand-in for the `kerberos` package: records calls, answers with scripted tokens or errors. */
function fakeKerberos(script: {
  init?: (service: string, options?: { flags?: number; mechOID?: number }) => void;
  steps?: Array<string | Error | 'hang'>;
}): { k: KerberosLike; calls: Array<{ service: string; options?: { flags?: number; mechOID?: number } }>; stepsSeen: string[] } {
  const calls: Array<{ service: string; options?: { flags?: number; mechOID?: number } }> = [];
  const stepsSeen: string[] = [];
  const steps = [...(script.steps ?? ['first-token'])];
  const k: KerberosLike = {
    GSS_C_MUTUAL_FLAG: 2,
    GSS_C_REPLAY_FLAG: 4,
    GSS_MECH_OID_KRB5: 9,
    GSS_MECH_OID_SPNEGO: 6,
    async initializeClient(service, options) {
      calls.push({ service, ...(options ? { options } : {}) });
      script.init?.(service, options);
      const client: KerberosClientLike = {
        contextComplete: false,
        async step(challenge: string) {
          stepsSeen.push(challenge);
          const next = steps.shift();
          if (next === undefined) return '';
          if (next === 'hang') return new Promise<string>(() => {});
          if (next instanceof Error) throw next;
          return next;
        },
      };
      return client;
    },
  };
  return { k, calls, stepsSeen };
}

describe('servicePrincipalName', () => {
  test('HTTP@host for GSS-API, HTTP/host for Windows SSPI, the host as written', () => {
    assert.equal(servicePrincipalName('proxy.corp.example', 'linux'), 'HTTP@proxy.corp.example');
    assert.equal(servicePrincipalName('Proxy.Corp', 'darwin'), 'HTTP@Proxy.Corp');
    assert.equal(servicePrincipalName('proxy.corp.example', 'win32'), 'HTTP/proxy.corp.example');
    assert.equal(servicePrincipalName('127.0.0.1', 'linux'), 'HTTP@127.0.0.1');
    assert.equal(servicePrincipalName('[::1]', 'linux'), 'HTTP@::1');
  });
});

describe('createNegotiateSession: one connection\'s state machine (scripted GSS-API)', () => {
  test('pre-emptive token: SPNEGO, mutual + replay, never delegation; nothing more once sent', async () => {
    const f = fakeKerberos({});
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k, platform: 'linux' });
    assert.equal(s.scheme, 'negotiate');
    assert.equal(await s.respond(REQ, undefined), 'Negotiate first-token');
    assert.deepEqual(f.calls, [{ service: 'HTTP@proxy.test', options: { flags: 2 | 4, mechOID: 6 } }]);
    assert.deepEqual(f.stepsSeen, ['']);
    assert.equal(await s.respond(REQ, undefined), undefined);
    assert.equal(s.lastError, undefined);
  });

  test('a Negotiate challenge at the start gets the token; other schemes get nothing', async () => {
    const f = fakeKerberos({});
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k });
    assert.equal(await s.respond(REQ, { scheme: 'ntlm', params: {} }), undefined);
    assert.equal(await s.respond(REQ, negotiate()), 'Negotiate first-token');
  });

  test('a bare 407 after our token is a refusal, for good', async () => {
    const f = fakeKerberos({});
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k });
    await s.respond(REQ, negotiate());
    assert.equal(await s.respond(REQ, negotiate()), undefined);
    assert.match(s.lastError!, /refused the Kerberos ticket for HTTP@proxy\.test/);
    assert.equal(await s.respond(REQ, negotiate()), undefined);
    assert.equal(await s.respond(REQ, undefined), undefined);
    assert.equal(f.calls.length, 1);
  });

  test('a server token is handed to GSS-API (mutual auth); at most two tokens per connection', async () => {
    const f = fakeKerberos({ steps: ['first-token', 'second-token', 'third-token'] });
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k });
    await s.respond(REQ, undefined);
    assert.equal(await s.respond(REQ, negotiate('c2VydmVy')), 'Negotiate second-token');
    assert.deepEqual(f.stepsSeen, ['', 'c2VydmVy']);
    assert.equal(await s.respond(REQ, negotiate('YWdhaW4=')), undefined);
    assert.match(s.lastError!, /refused .* after 2 rounds/);
  });

  test('a server token that GSS-API rejects (a KRB-ERROR) ends the session with its reason', async () => {
    const f = fakeKerberos({ steps: ['first-token', new Error('Clock skew too great')] });
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k });
    await s.respond(REQ, undefined);
    assert.equal(await s.respond(REQ, negotiate('a3JiLWVycm9y')), undefined);
    assert.match(s.lastError!, /refused the Kerberos ticket .*Clock skew too great/);
  });

  test('a server token that completes the context on a 407 is still a refusal', async () => {
    const f = fakeKerberos({ steps: ['first-token', ''] });
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k });
    await s.respond(REQ, undefined);
    assert.equal(await s.respond(REQ, negotiate('YXAtcmVw')), undefined);
    assert.match(s.lastError!, /refused/);
  });

  test('the package missing: undefined, and lastError says so', async () => {
    const s = createNegotiateSession({
      proxyHost: 'proxy.test',
      loadKerberos: () => Promise.reject(new Error("Cannot find package 'kerberos'")),
    });
    assert.equal(await s.respond(REQ, undefined), undefined);
    assert.match(s.lastError!, /optional package "kerberos" could not be loaded \(Cannot find package 'kerberos'\)/);
    assert.equal(await s.respond(REQ, negotiate()), undefined);
  });

  test('no ticket: SPNEGO\'s vague message is replaced by Kerberos\' own reason', async () => {
    const f = fakeKerberos({
      init: (_service, options) => {
        if (options?.mechOID === 6) throw new Error('No credentials were supplied: SPNEGO cannot find mechanisms to negotiate');
        throw new Error('No credentials were supplied: No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)');
      },
    });
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k });
    assert.equal(await s.respond(REQ, undefined), undefined);
    assert.match(s.lastError!, /^no Kerberos ticket \(run kinit, or check KRB5CCNAME\) \(.*default cache: FILE:\/tmp\/krb5cc_0\)/);
    assert.deepEqual(
      f.calls.map((c) => c.options?.mechOID),
      [6, 9],
    );
  });

  test('a KDC that never answers: undefined after the timeout', async () => {
    const f = fakeKerberos({ steps: ['hang'] });
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k, timeoutMs: 50 });
    const t0 = Date.now();
    assert.equal(await s.respond(REQ, undefined), undefined);
    assert.ok(Date.now() - t0 < 2000);
    assert.match(s.lastError!, /^Kerberos did not answer in time/);
  });

});

describe('NTLM inside Negotiate: fallbackNtlm when Kerberos cannot be used (scripted GSS-API)', () => {
  const creds = { user: 'alice', password: 'hunter2-secret', domain: 'CORP' };
  const noKdc = (): ReturnType<typeof fakeKerberos> =>
    fakeKerberos({
      init: () => {
        throw new Error('Cannot contact any KDC for realm');
      },
    });
  const type2 = (): string => buildChallenge({ pairs: [[2, u16('CORP')], [7, hex('0090d336b734c301')]] }).toString('base64');
  const token = (h: string | undefined): Buffer => Buffer.from(h!.slice('Negotiate '.length), 'base64');

  test('Kerberos unusable: the NTLM Type 1, raw, under Negotiate; the Type 3 for the Type 2; then nothing', async () => {
    const f = noKdc();
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k, fallbackNtlm: creds });
    const h1 = await s.respond(REQ, undefined);
    assert.equal(h1, `Negotiate ${negotiateMessage().toString('base64')}`);
    assert.equal(s.mechanism, 'ntlm');
    assert.match(s.kerberosError!, /KDC cannot be reached/);
    const h3 = await s.respond(REQ, negotiate(type2()));
    assert.equal(token(h3).subarray(0, 12).toString('latin1'), 'NTLMSSP\0\x03\0\0\0');
    assert.equal(readType3(token(h3)).user, 'alice');
    assert.equal(await s.respond(REQ, undefined), undefined, 'the connection is authenticated');
    assert.equal(s.credentialsRefused, false);
  });

  test('a bare Negotiate after the Type 3 is a refusal of the credentials; no password anywhere', async () => {
    const f = noKdc();
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k, fallbackNtlm: creds });
    await s.respond(REQ, undefined);
    await s.respond(REQ, negotiate(type2()));
    assert.equal(await s.respond(REQ, negotiate()), undefined);
    assert.equal(s.credentialsRefused, true);
    assert.match(s.lastError!, /refused the NTLM credentials of CORP\\alice/);
    for (const text of [s.lastError!, s.kerberosError!]) assert.ok(!text.includes(creds.password));
    assert.equal(await s.respond(REQ, negotiate(type2())), undefined, 'no second try');
  });

  test('a bare Negotiate after the Type 1: the acceptor has no NTLM, which is not a refused password', async () => {
    const f = noKdc();
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k, fallbackNtlm: creds });
    await s.respond(REQ, negotiate());
    assert.equal(await s.respond(REQ, negotiate()), undefined);
    assert.equal(s.credentialsRefused, false);
    assert.match(s.lastError!, /Negotiate does not take NTLM/);
  });

  test('Kerberos known not to work (kerberosUnavailable): GSS-API is not asked again, NTLM starts at once', async () => {
    const s = createNegotiateSession({
      proxyHost: 'proxy.test',
      loadKerberos: () => assert.fail('GSS-API asked again'),
      kerberosUnavailable: 'no Kerberos ticket',
      fallbackNtlm: creds,
    });
    assert.match((await s.respond(REQ, undefined))!, /^Negotiate TlRMTVNTUAABAAAA/);
    assert.equal(s.kerberosError, 'no Kerberos ticket');
  });

  test('Kerberos known not to work and no credentials: nothing, and the reason', async () => {
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: () => assert.fail('asked'), kerberosUnavailable: 'no Kerberos ticket' });
    assert.equal(await s.respond(REQ, undefined), undefined);
    assert.equal(s.lastError, 'no Kerberos ticket');
    assert.equal(s.mechanism, undefined);
  });

  test('with a ticket Kerberos wins, credentials or not', async () => {
    const f = fakeKerberos({});
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k, fallbackNtlm: creds });
    assert.equal(await s.respond(REQ, undefined), 'Negotiate first-token');
    assert.equal(s.mechanism, 'kerberos');
    assert.equal(s.kerberosError, undefined);
  });

  test('a Kerberos token the proxy refused does not turn into NTLM on that connection', async () => {
    const f = fakeKerberos({});
    const s = createNegotiateSession({ proxyHost: 'proxy.test', loadKerberos: async () => f.k, fallbackNtlm: creds });
    await s.respond(REQ, undefined);
    assert.equal(await s.respond(REQ, negotiate()), undefined);
    assert.equal(s.mechanism, 'kerberos');
    assert.match(s.lastError!, /refused the Kerberos ticket/);
  });
});

// ---- the real `kerberos` package and MIT libkrb5 ---------------------------------------------------

/** Why the real-library tests cannot run here, or undefined. */
const NO_KERBEROS: string | undefined = await loadKerberos().then(
  () => undefined,
  (e: unknown) => `the kerberos package does not load here: ${e instanceof Error ? e.message : String(e)}`,
);
const NO_KDC: string | undefined =
  NO_KERBEROS ??
  (spawnSync('/usr/sbin/krb5kdc', ['--help'], { stdio: 'ignore' }).error === undefined
    ? undefined
    : 'krb5kdc not installed (apt-get install krb5-kdc krb5-admin-server krb5-user)');

describe('real GSS-API, no ticket', { skip: NO_KERBEROS ?? false }, () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('symsrv-negotiate-');
  });
  after(async () => {
    await removeDir(dir);
  });

  test('an empty ticket cache and an unreachable KDC: undefined at once, and why', async () => {
    const conf = join(dir, 'krb5.conf');
    await writeFile(
      conf,
      '[libdefaults]\n  default_realm = NOWHERE.TEST\n  dns_lookup_kdc = false\n  dns_lookup_realm = false\n' +
        '[realms]\n  NOWHERE.TEST = {\n    kdc = 127.0.0.1:1\n  }\n',
    );
    const ccache = join(dir, 'empty.ccache');
    await writeFile(ccache, '');
    await withEnv({ KRB5_CONFIG: conf, KRB5CCNAME: `FILE:${ccache}` }, async () => {
      const s = createNegotiateSession({ proxyHost: 'proxy.nowhere.test' });
      const t0 = Date.now();
      assert.equal(await s.respond(REQ, undefined), undefined);
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      assert.match(s.lastError!, /^no Kerberos ticket \(run kinit, or check KRB5CCNAME\)/);
      assert.ok(s.lastError!.includes(ccache), 'names the cache it looked in');
    });
  });
});

describe('real GSS-API against a real MIT KDC (test/helpers/kdc.ts)', { skip: NO_KDC ?? false }, () => {
  let dir: string;
  let kdc: Kdc | undefined;
  before(async () => {
    dir = await makeTempDir('symsrv-kdc-');
    kdc = await startKdc(dir);
  });
  after(async () => {
    await kdc?.stop();
    await removeDir(dir);
  });
  const env = (): Record<string, string> => ({ KRB5_CONFIG: kdc!.krb5Config, KRB5CCNAME: kdc!.ccache });

  test('Negotiate <token>: an SPNEGO token carrying a Kerberos AP-REQ for HTTP/localhost', async () => {
    const header = await withEnv(env(), async () => {
      const s = createNegotiateSession({ proxyHost: 'localhost' });
      const h = await s.respond(REQ, undefined);
      assert.equal(s.lastError, undefined);
      return h;
    });
    assert.match(header!, /^Negotiate [A-Za-z0-9+/]+=*$/);
    const token = Buffer.from(header!.slice('Negotiate '.length), 'base64');
    assert.equal(token[0], 0x60, 'ASN.1 [APPLICATION 0]: a GSS-API initial context token');
    assert.ok(token.includes(Buffer.from('06062b0601050502', 'hex')), 'SPNEGO OID 1.3.6.1.5.5.2');
    // The mechToken (RFC 4121 §4.1): Kerberos V5 OID 1.2.840.113554.1.2.2, TOK_ID 01 00 (KRB_AP_REQ),
    // then the AP-REQ itself, ASN.1 [APPLICATION 14] (0x6e).
    assert.ok(token.includes(Buffer.from('06092a864886f712010202' + '0100' + '6e', 'hex')), 'a Kerberos AP-REQ');
    const log = await readFile(kdc!.log, 'utf8');
    assert.match(log, /TGS_REQ .* alice@SYMSRV\.TEST for HTTP\/localhost@SYMSRV\.TEST/);
  });

  test('the token is accepted by a GSS-API acceptor holding the proxy\'s keytab, as alice', async () => {
    const name = 'kerberos';
    const mod = (await import(name)) as { default?: unknown };
    const k = (mod.default ?? mod) as {
      initializeServer(service: string): Promise<{ step(t: string): Promise<string>; username: string; contextComplete: boolean }>;
    };
    await withEnv({ ...env(), KRB5_KTNAME: `FILE:${kdc!.keytab}`, KRB5RCACHETYPE: 'none' }, async () => {
      const s = createNegotiateSession({ proxyHost: '127.0.0.1' });
      const header = (await s.respond(REQ, undefined))!;
      const server = await k.initializeServer('HTTP@127.0.0.1');
      await server.step(header.slice('Negotiate '.length));
      assert.equal(server.contextComplete, true);
      assert.equal(server.username, `${kdc!.user}@${kdc!.realm}`);
    });
  });

  test('a proxy name the KDC does not know: undefined, and lastError names the service principal', async () => {
    await withEnv(env(), async () => {
      const s = createNegotiateSession({ proxyHost: 'unknown.symsrv.test' });
      assert.equal(await s.respond(REQ, undefined), undefined);
      assert.match(s.lastError!, /does not know the proxy's service principal HTTP@unknown\.symsrv\.test/);
      assert.ok(!s.lastError!.includes(kdc!.password));
    });
  });

  test('the KDC down (a ticket for the proxy not yet cached): undefined, "cannot be reached"', async () => {
    await kdc!.stop();
    await withEnv(env(), async () => {
      const s = createNegotiateSession({ proxyHost: 'proxy.symsrv.test' });
      const t0 = Date.now();
      assert.equal(await s.respond(REQ, undefined), undefined);
      assert.ok(Date.now() - t0 < 5000);
      assert.match(s.lastError!, /^the Kerberos KDC cannot be reached/);
    });
  });
});
