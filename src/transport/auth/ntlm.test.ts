import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { buildChallenge, hex, readType3, u16 } from '../../../test/helpers/ntlm.js';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { isSymsrvError } from '../../errors.js';
import { createNtlmSession } from './ntlm.js';
import { negotiateMessage, parseChallengeMessage } from './ntlm-messages.js';
import type { AuthRequest, Challenge, Credentials } from './types.js';

const REQ: AuthRequest = { method: 'GET', uri: 'http://origin.test/x' };
const ntlm = (token?: string): Challenge => ({ scheme: 'ntlm', params: {}, ...(token === undefined ? {} : { token }) });

describe('createNtlmSession: one connection\'s state machine', () => {
  const creds = { user: 'alice', password: 'pa$$-Sécret', domain: 'SYMSRV' };
  const type2 = (): string =>
    buildChallenge({ pairs: [[2, u16('SYMSRV')], [7, hex('0090d336b734c301')]] }).toString('base64');

  test('pre-emptive Type 1, Type 3 for the Type 2, then nothing: the connection is authenticated', async () => {
    const s = createNtlmSession(creds);
    assert.equal(s.scheme, 'ntlm');
    const h1 = await s.respond(REQ, undefined);
    assert.equal(h1, `NTLM ${negotiateMessage().toString('base64')}`);
    assert.equal(await s.respond(REQ, undefined), undefined, 'no second Type 1 before the Type 2');
    const h3 = await s.respond(REQ, ntlm(type2()));
    assert.match(h3!, /^NTLM TlRMTVNTUAADAAAA/);
    const t = readType3(Buffer.from(h3!.slice(5), 'base64'));
    assert.equal(t.user, 'alice');
    assert.equal(t.domain, 'SYMSRV');
    assert.equal(await s.respond(REQ, undefined), undefined, 'later requests on the connection carry no header');
    assert.equal(s.lastError, undefined);
  });

  test('a bare NTLM challenge at the start gets the Type 1', async () => {
    const s = createNtlmSession(creds);
    assert.match((await s.respond(REQ, ntlm()))!, /^NTLM TlRMTVNTUAABAAAA/);
    assert.match((await s.respond(REQ, ntlm(type2())))!, /^NTLM TlRMTVNTUAADAAAA/);
  });

  test('a 407 after the Type 3 is a refusal: undefined, then undefined for good; no password in lastError', async () => {
    for (const again of [ntlm(), ntlm(type2())]) {
      const s = createNtlmSession(creds);
      await s.respond(REQ, undefined);
      await s.respond(REQ, ntlm(type2()));
      assert.equal(await s.respond(REQ, again), undefined);
      assert.match(s.lastError!, /refused the NTLM credentials of SYMSRV\\alice/);
      assert.equal(s.refused, true, 'the credentials were checked and refused');
      assert.ok(!s.lastError!.includes(creds.password));
      assert.equal(await s.respond(REQ, ntlm()), undefined);
      assert.equal(await s.respond(REQ, undefined), undefined);
    }
  });

  test('other schemes, and a Type 2 nobody asked for, get nothing', async () => {
    const s = createNtlmSession(creds);
    assert.equal(await s.respond(REQ, { scheme: 'basic', params: { realm: 'r' } }), undefined);
    assert.equal(await s.respond(REQ, ntlm(type2())), undefined);
    assert.match(s.lastError!, /no NTLM handshake was started/);
  });

  test('under the Negotiate scheme (NTLM inside Negotiate): the same messages, raw, as `Negotiate <base64>`', async () => {
    const s = createNtlmSession(creds, { scheme: 'negotiate' });
    assert.equal(s.scheme, 'negotiate');
    const neg = (token?: string): Challenge => ({ scheme: 'negotiate', params: {}, ...(token === undefined ? {} : { token }) });
    assert.equal(await s.respond(REQ, undefined), `Negotiate ${negotiateMessage().toString('base64')}`);
    assert.equal(await s.respond(REQ, ntlm(type2())), undefined, 'an NTLM challenge is not ours');
    const h3 = (await s.respond(REQ, neg(type2())))!;
    assert.match(h3, /^Negotiate TlRMTVNTUAADAAAA/);
    assert.equal(readType3(Buffer.from(h3.slice('Negotiate '.length), 'base64')).user, 'alice');
    assert.equal(await s.respond(REQ, neg()), undefined, 'a bare Negotiate after the Type 3 is a refusal');
    assert.equal(s.refused, true);
  });

  test('under Negotiate, a bare challenge after the Type 1 means the acceptor has no NTLM: not a refusal of the password', async () => {
    const s = createNtlmSession(creds, { scheme: 'negotiate' });
    await s.respond(REQ, undefined);
    assert.equal(await s.respond(REQ, { scheme: 'negotiate', params: {} }), undefined);
    assert.equal(s.refused, false);
    assert.match(s.lastError!, /Negotiate does not take NTLM/);
  });

  test('a malformed Type 2 is a SymsrvError that names the problem and not the password', async () => {
    const s = createNtlmSession(creds);
    await s.respond(REQ, undefined);
    await assert.rejects(
      s.respond(REQ, ntlm(Buffer.from('NTLMSSP\0\x02\0\0\0').toString('base64'))),
      (e: unknown) =>
        isSymsrvError(e, 'E_PROXY_AUTH') && /malformed NTLM challenge/.test(e.message) && !e.message.includes(creds.password),
    );
    assert.equal(await s.respond(REQ, ntlm(type2())), undefined, 'the session is over');
  });

  test('credentials without a domain send an empty domain (the server uses its own)', async () => {
    const s = createNtlmSession({ user: 'alice', password: 'pw' }, { workstation: 'BUILD01' });
    await s.respond(REQ, undefined);
    const t = readType3(Buffer.from((await s.respond(REQ, ntlm(type2())))!.slice(5), 'base64'));
    assert.equal(t.domain, '');
    assert.equal(t.workstation, 'BUILD01');
  });
});

// ---- Samba's own NTLMSSP server, when installed ---------------------------------------------------
// `ntlm_auth --helper-protocol=squid-2.5-ntlmssp --username U --password P` runs Samba's NTLMSSP
// server (the code squid's NTLM helper runs) against a local password, without winbindd: `YR <type1>`
// → `TT <type2>`, `KK <type3>` → `AF <user>` or `NA <status>`. Package: winbind.
const NTLM_AUTH = spawnSync('ntlm_auth', ['--help'], { stdio: 'ignore' }).error === undefined;

const SKIP_SAMBA = NTLM_AUTH ? false : 'ntlm_auth not installed (apt-get install winbind)';

describe('Samba ntlm_auth accepts what we send', { skip: SKIP_SAMBA }, () => {
  let dir: string;
  let conf: string;
  before(async () => {
    dir = await makeTempDir('symsrv-ntlm-');
    conf = join(dir, 'smb.conf');
    const d = (n: string): string => join(dir, n);
    await writeFile(
      conf,
      `[global]\n  workgroup = SYMSRV\n  netbios name = SYMSRV\n  server role = standalone server\n` +
        `  private dir = ${d('private')}\n  state directory = ${d('state')}\n  cache directory = ${d('cache')}\n` +
        `  lock directory = ${d('lock')}\n  pid directory = ${d('run')}\n  log file = ${d('log.%m')}\n`,
    );
  });
  after(async () => {
    await removeDir(dir);
  });

  /** One handshake between a session and Samba's server knowing `alice` / `serverPassword`. */
  async function handshake(creds: Credentials, tamper?: (type3: Buffer) => void, helper: 'squid-2.5-ntlmssp' | 'gss-spnego' = 'squid-2.5-ntlmssp'): Promise<string> {
    const args = [`--configfile=${conf}`, `--helper-protocol=${helper}`, '--username=alice', '--password=S3cret-pw', '--domain=SYMSRV'];
    // gss-spnego is a Negotiate helper: its tokens travel under the Negotiate scheme.
    const scheme = helper === 'gss-spnego' ? 'negotiate' : 'ntlm';
    const p = spawn('ntlm_auth', args, { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
      const ask = async (line: string): Promise<string> => {
        p.stdin.write(`${line}\n`);
        const r = await lines.next();
        return r.done ? '' : (r.value as string);
      };
      const s = createNtlmSession(creds, { scheme });
      const token = (h: string): string => h.slice(h.indexOf(' ') + 1);
      const h1 = (await s.respond(REQ, undefined))!;
      const tt = await ask(`YR ${token(h1)}`);
      assert.match(tt, /^TT /);
      const type2 = parseChallengeMessage(Buffer.from(tt.slice(3), 'base64'));
      assert.ok(type2.timestamp, 'Samba sends MsvAvTimestamp, so the MIC is exercised');
      const h3 = (await s.respond(REQ, { scheme, params: {}, token: tt.slice(3) }))!;
      const type3 = Buffer.from(token(h3), 'base64');
      tamper?.(type3);
      return await ask(`KK ${type3.toString('base64')}`);
    } finally {
      p.kill();
    }
  }

  test('alice, SYMSRV\\alice and symsrv\\alice are accepted (NTLMv2 with MIC)', async () => {
    assert.equal(await handshake({ user: 'alice', password: 'S3cret-pw' }), 'AF \\alice');
    assert.equal(await handshake({ user: 'alice', password: 'S3cret-pw', domain: 'SYMSRV' }), 'AF SYMSRV\\alice');
    assert.equal(await handshake({ user: 'alice', password: 'S3cret-pw', domain: 'symsrv' }), 'AF symsrv\\alice');
  });

  test('a wrong password is refused', async () => {
    assert.match(await handshake({ user: 'alice', password: 'wrong' }), /^NA NT_STATUS_LOGON_FAILURE/);
  });

  test('a MIC changed in flight is refused (so Samba checks the MIC we compute)', async () => {
    assert.match(await handshake({ user: 'alice', password: 'S3cret-pw' }, (m) => (m[80]! ^= 1)), /^NA /);
  });

  // Samba's Negotiate helper (`gss-spnego`, what `auth_param negotiate program ntlm_auth
  // --helper-protocol=gss-spnego` runs) takes raw NTLMSSP tokens as well as SPNEGO ones (its SPNEGO
  // server falls back to a mechanism whose magic matches): what we send under Negotiate works there
  // too, not only behind squid's negotiate_wrapper_auth. It answers `AF * DOMAIN\user` / `NA * status`.
  test('gss-spnego (Samba as a Negotiate helper) accepts raw NTLM inside Negotiate, and refuses a wrong password', async () => {
    assert.equal(await handshake({ user: 'alice', password: 'S3cret-pw', domain: 'SYMSRV' }, undefined, 'gss-spnego'), 'AF * SYMSRV\\alice');
    assert.match(await handshake({ user: 'alice', password: 'wrong', domain: 'SYMSRV' }, undefined, 'gss-spnego'), /^NA \* NT_STATUS_LOGON_FAILURE/);
  });
});
