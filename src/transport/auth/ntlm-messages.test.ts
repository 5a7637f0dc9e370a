import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { buildChallenge, hex, readType3, u16 } from '../../../test/helpers/ntlm.js';
import { isSymsrvError } from '../../errors.js';
import {
  CLIENT_VERSION,
  NEGOTIATE_FLAGS,
  NtlmFlags,
  authenticateFlags,
  authenticateMessage,
  computeMic,
  negotiateMessage,
  ntlmv2Response,
  ntowfv2,
  parseChallengeMessage,
} from './ntlm-messages.js';

// ---- [MS-NLMP] §4.2.1 common values -------------------------------------------------------------
// User "User", UserDom "Domain", Passwd "Password", ServerName "Server", Workstation "COMPUTER",
// RandomSessionKey 0x55 x 16, Time 0, ClientChallenge 0xaa x 8, ServerChallenge 0123456789abcdef.
const USER = 'User';
const DOMAIN = 'Domain';
const PASSWORD = 'Password';
const WORKSTATION = 'COMPUTER';
const RANDOM_SESSION_KEY = Buffer.alloc(16, 0x55);
const TIME = Buffer.alloc(8);
const CLIENT_CHALLENGE = Buffer.alloc(8, 0xaa);
const SERVER_CHALLENGE = hex('0123456789abcdef');

// ---- [MS-NLMP] §4.2.4 NTLMv2 results -----------------------------------------------------------
/** §4.2.4.1.1 NTOWFv2() and LMOWFv2() */
const NTOWFV2 = hex('0c868a403bfd7a93a3001ef22ef02e3f');
/** §4.2.4.1.2 Session Base Key */
const SESSION_BASE_KEY = hex('8de40ccadbc14a82f15cb0ad0de95ca3');
/** §4.2.4.1.3 temp */
const TEMP = hex(`
  0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000
  02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000 00000000`);
/** §4.2.4.2.1 LMv2 Response */
const LMV2_RESPONSE = hex('86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
/** §4.2.4.2.2 NTLMv2 Response (the NTProofStr; the response is NTProofStr || temp) */
const NT_PROOF_STR = hex('68cd0ab851e51c96aabc927bebef6a1c');
/** §4.2.4.2.3 Encrypted Session Key: RC4(SessionBaseKey, RandomSessionKey) */
const ENCRYPTED_SESSION_KEY = hex('c5dad2544fc9799094ce1ce90bc9d03e');
/** §4.2.4.3 CHALLENGE_MESSAGE */
const CHALLENGE_MESSAGE = hex(`
  4e544c4d53535000 02000000 0c000c0038000000 33828ae2 0123456789abcdef 0000000000000000
  2400240044000000 060070170000000f 530065007200760065007200
  02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000`);
/** §4.2.4.3 AUTHENTICATE_MESSAGE (232 bytes; its Version field says 5.1 build 2600, revision 15) */
const AUTHENTICATE_MESSAGE = hex(`
  4e544c4d53535000 03000000 180018006c000000 5400540084000000 0c000c0048000000
  0800080054000000 100010005c000000 10001000d8000000 358288e2 0501280a0000000f
  44006f006d00610069006e00 5500730065007200 43004f004d0050005500540045005200
  86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa
  68cd0ab851e51c96aabc927bebef6a1c 0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000
  02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000 00000000
  c5dad2544fc9799094ce1ce90bc9d03e`);
/** The §4.2.4.3 CHALLENGE_MESSAGE's TargetInfo (NetBIOS domain "Domain", NetBIOS server "Server", MsvAvEOL). */
const SPEC_TARGET_INFO = hex('02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000');

describe('NTLMv2 computations: [MS-NLMP] §4.2.4 test vectors', () => {
  test('§4.2.4.1.1 NTOWFv2', () => {
    assert.deepEqual(ntowfv2(PASSWORD, USER, DOMAIN), NTOWFV2);
  });

  test('Uppercase(User) is part of the key, UserDom is taken as typed', () => {
    assert.deepEqual(ntowfv2(PASSWORD, 'user', DOMAIN), NTOWFV2);
    assert.deepEqual(ntowfv2(PASSWORD, 'USER', DOMAIN), NTOWFV2);
    assert.notDeepEqual(ntowfv2(PASSWORD, USER, 'DOMAIN'), NTOWFV2);
  });

  test('Uppercase keeps the length of each character, as Windows does (ß is not SS)', () => {
    assert.deepEqual(ntowfv2('pw', 'straße', ''), ntowfv2('pw', 'STRAßE', ''));
    assert.notDeepEqual(ntowfv2('pw', 'straße', ''), ntowfv2('pw', 'STRASSE', ''));
  });

  /** ComputeResponse with the §4.2.1 inputs. */
  const specResponse = (zeroLm: boolean): ReturnType<typeof ntlmv2Response> =>
    ntlmv2Response({
      responseKeyNT: NTOWFV2,
      serverChallenge: SERVER_CHALLENGE,
      clientChallenge: CLIENT_CHALLENGE,
      timestamp: TIME,
      avPairs: SPEC_TARGET_INFO,
      zeroLm,
    });

  test('§4.2.4.1.3 temp, §4.2.4.2.1 LMv2, §4.2.4.2.2 NTProofStr, §4.2.4.1.2 session base key', () => {
    const r = specResponse(false);
    assert.deepEqual(r.ntChallengeResponse.subarray(16), TEMP);
    assert.deepEqual(r.lmChallengeResponse, LMV2_RESPONSE);
    assert.deepEqual(r.ntProofStr, NT_PROOF_STR);
    assert.deepEqual(r.ntChallengeResponse, Buffer.concat([NT_PROOF_STR, TEMP]));
    assert.deepEqual(r.sessionBaseKey, SESSION_BASE_KEY);
  });

  test('with MsvAvTimestamp the LMv2 response is Z(24) (§3.3.2)', () => {
    const r = specResponse(true);
    assert.deepEqual(r.lmChallengeResponse, Buffer.alloc(24));
    assert.deepEqual(r.ntProofStr, NT_PROOF_STR);
  });

  test('§4.2.4.3 CHALLENGE_MESSAGE parses', () => {
    const c = parseChallengeMessage(CHALLENGE_MESSAGE);
    assert.equal(c.flags, 0xe28a8233);
    assert.deepEqual(c.serverChallenge, SERVER_CHALLENGE);
    assert.equal(c.targetName, 'Server');
    assert.deepEqual(c.targetInfo, SPEC_TARGET_INFO);
    assert.equal(c.timestamp, undefined);
    assert.deepEqual(c.raw, CHALLENGE_MESSAGE);
  });

  test('§4.2.4.3 AUTHENTICATE_MESSAGE, byte for byte (with key exchange, §4.2.4.2.3 encrypted session key)', () => {
    const msg = authenticateMessage({
      challenge: parseChallengeMessage(CHALLENGE_MESSAGE),
      user: USER,
      password: PASSWORD,
      domain: DOMAIN,
      workstation: WORKSTATION,
      clientChallenge: CLIENT_CHALLENGE,
      timestamp: TIME,
      exportedSessionKey: RANDOM_SESSION_KEY,
      version: hex('0501280a0000000f'),
    });
    assert.deepEqual(msg.subarray(-16), ENCRYPTED_SESSION_KEY);
    assert.equal(msg.toString('hex'), AUTHENTICATE_MESSAGE.toString('hex'));
  });

  test('the Type 3 flags are the granted ones, Unicode over OEM, without the target type, with REQUEST_TARGET', () => {
    assert.equal(authenticateFlags(0xe28a8233), 0xe2888235); // the §4.2.4.3 pair
    // Flags we never honour are dropped even when a server sets them.
    const f = authenticateFlags(0xe28a8233 | NtlmFlags.LM_KEY | NtlmFlags.IDENTIFY | NtlmFlags.ANONYMOUS);
    assert.equal(f & (NtlmFlags.LM_KEY | NtlmFlags.IDENTIFY | NtlmFlags.ANONYMOUS), 0);
    // OEM is kept only when the server did not pick Unicode.
    assert.equal(authenticateFlags(NtlmFlags.OEM | NtlmFlags.NTLM) & NtlmFlags.OEM, NtlmFlags.OEM);
  });
});

describe('MIC: Chromium net/ntlm/ntlm_test_data.h (MS-NLMP §4.2 values, with client timestamp, MsvAvFlags, EPA, SPN)', () => {
  // Chromium's end-to-end vectors: the §4.2.4.3 challenge answered with a target info that adds
  // MsvAvFlags(MIC), MsvAvChannelBindings and MsvAvTargetName "HTTP/Server", client time
  // 131400439870000000 (2017-05-23T20:13:07Z). They check the same NTLMv2 arithmetic against an
  // independent implementation, and the MIC over three real messages.
  const TARGET_INFO = hex(`
    02000c0044006f006d00610069006e00 01000c00530065007200760065007200 0600040002000000
    0a0010006586e99d81c2fc984e47172fd4dd0310 090016004800540054005000 2f00530065007200760065007200 00000000`);
  const CLIENT_TIME = hex('800bc8fd00d4d201');
  const PROOF = hex('8c0260dbef690662af9c42d50782d2ed');
  const KEY = hex('623dbd071be7a530b6a95c2eb4982470');
  const NEGOTIATE = hex('4e544c4d53535000 01000000 07820800 0000000020000000 0000000020000000');
  const MIC = hex('f7361633f0ad9bdf4a7c421bc6b824a3');
  const AUTHENTICATE_ZERO_MIC = hex(`
    4e544c4d53535000 03000000 1800180058000000 8a008a0070000000 0c000c00fa000000 0800080006010000
    100010000e010000 0000000058000000 03820800 0000000000000000 00000000000000000000000000000000
    000000000000000000000000000000000000000000000000
    8c0260dbef690662af9c42d50782d2ed 0101000000000000 800bc8fd00d4d201 aaaaaaaaaaaaaaaa 00000000`)
    .toString('hex')
    .concat(
      TARGET_INFO.toString('hex'),
      '00000000',
      u16('Domain').toString('hex'),
      u16('User').toString('hex'),
      u16('COMPUTER').toString('hex'),
    );

  test('NTProofStr and session base key', () => {
    const r = ntlmv2Response({
      responseKeyNT: NTOWFV2,
      serverChallenge: SERVER_CHALLENGE,
      clientChallenge: CLIENT_CHALLENGE,
      timestamp: CLIENT_TIME,
      avPairs: TARGET_INFO,
      zeroLm: false,
    });
    assert.deepEqual(r.ntProofStr, PROOF);
    assert.deepEqual(r.sessionBaseKey, KEY);
  });

  test('MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with a zero MIC)', () => {
    assert.deepEqual(computeMic(KEY, NEGOTIATE, CHALLENGE_MESSAGE, Buffer.from(AUTHENTICATE_ZERO_MIC, 'hex')), MIC);
  });
});

describe('messages we build', () => {
  test('NEGOTIATE_MESSAGE: the documented flags, no domain or workstation, our Version', () => {
    assert.equal(NEGOTIATE_FLAGS, 0xa2888207);
    assert.equal(
      negotiateMessage().toString('hex'),
      '4e544c4d53535000' + '01000000' + '078288a2' + '0000000028000000' + '0000000028000000' + '060100000000000f',
    );
  });

  test('NEGOTIATE_MESSAGE with a domain and workstation: OEM strings and the SUPPLIED flags', () => {
    const m = negotiateMessage({ domain: 'SYMSRV', workstation: 'WS1' });
    const flags = m.readUInt32LE(12);
    assert.equal(flags & NtlmFlags.OEM_DOMAIN_SUPPLIED, NtlmFlags.OEM_DOMAIN_SUPPLIED);
    assert.equal(flags & NtlmFlags.OEM_WORKSTATION_SUPPLIED, NtlmFlags.OEM_WORKSTATION_SUPPLIED);
    assert.equal(m.subarray(m.readUInt32LE(20), m.readUInt32LE(20) + m.readUInt16LE(16)).toString('latin1'), 'SYMSRV');
    assert.equal(m.subarray(m.readUInt32LE(28), m.readUInt32LE(28) + m.readUInt16LE(24)).toString('latin1'), 'WS1');
  });

  test('round trip: a challenge with MsvAvTimestamp gets Z(24) LM, MsvAvFlags(MIC) and a MIC that verifies', () => {
    const serverTime = hex('0090d336b734c301');
    const type2 = buildChallenge({
      pairs: [
        [2, u16('SYMSRV')],
        [1, u16('SYMSRV')],
        [4, Buffer.alloc(0)],
        [3, u16('vm')],
        [7, serverTime],
      ],
    });
    const c = parseChallengeMessage(type2);
    assert.deepEqual(c.timestamp, serverTime);
    assert.equal(c.targetName, 'SYMSRV');
    const type1 = negotiateMessage();
    const m = authenticateMessage({
      challenge: c,
      user: 'alice',
      password: 'pw',
      domain: '',
      negotiateMessage: type1,
      exportedSessionKey: RANDOM_SESSION_KEY,
    });
    const t = readType3(m);
    assert.deepEqual(t.lm, Buffer.alloc(24));
    assert.equal(t.domain, '');
    assert.equal(t.user, 'alice');
    assert.equal(t.workstation, '');
    // The blob's timestamp is the server's.
    assert.deepEqual(t.nt.subarray(24, 32), serverTime);
    // The target info sent = the server's pairs + MsvAvFlags 0x2 + MsvAvEOL.
    const sentInfo = t.nt.subarray(44, t.nt.length - 4);
    assert.deepEqual(sentInfo.subarray(0, c.targetInfo.length - 4), c.targetInfo.subarray(0, -4));
    assert.deepEqual(sentInfo.subarray(c.targetInfo.length - 4), hex('0600040002000000 00000000'));
    // The MIC: recomputed over the three messages with the MIC zeroed.
    const mic = Buffer.from(m.subarray(72, 88));
    const zeroed = Buffer.from(m);
    zeroed.fill(0, 72, 88);
    const r = ntlmv2Response({
      responseKeyNT: ntowfv2('pw', 'alice', ''),
      serverChallenge: c.serverChallenge,
      clientChallenge: t.nt.subarray(32, 40),
      timestamp: serverTime,
      avPairs: sentInfo,
      zeroLm: true,
    });
    assert.deepEqual(r.ntProofStr, t.nt.subarray(0, 16));
    // The challenge granted KEY_EXCH: the MIC key is the exported (random) session key, sent
    // encrypted with the session base key.
    assert.notEqual(t.flags & NtlmFlags.KEY_EXCH, 0);
    assert.equal(t.key.length, 16);
    assert.deepEqual(computeMic(RANDOM_SESSION_KEY, type1, type2, zeroed), mic);
  });

  test('without key exchange the MIC key is the session base key and no session key is sent', () => {
    const type2 = buildChallenge({ flags: 0xa28a8215, pairs: [[7, hex('0090d336b734c301')]] });
    const c = parseChallengeMessage(type2);
    const type1 = negotiateMessage();
    const m = authenticateMessage({ challenge: c, user: 'alice', password: 'pw', domain: 'SYMSRV', negotiateMessage: type1 });
    const t = readType3(m);
    assert.equal(t.key.length, 0);
    assert.equal(t.domain, 'SYMSRV');
    const r = ntlmv2Response({
      responseKeyNT: ntowfv2('pw', 'alice', 'SYMSRV'),
      serverChallenge: c.serverChallenge,
      clientChallenge: t.nt.subarray(32, 40),
      timestamp: t.nt.subarray(24, 32),
      avPairs: t.nt.subarray(44, t.nt.length - 4),
      zeroLm: true,
    });
    const zeroed = Buffer.from(m);
    zeroed.fill(0, 72, 88);
    assert.deepEqual(computeMic(r.sessionBaseKey, type1, type2, zeroed), m.subarray(72, 88));
  });

  test('without MsvAvTimestamp: no MIC, an LMv2 response, the blob time is now', () => {
    const c = parseChallengeMessage(buildChallenge({ pairs: [[2, u16('SYMSRV')]] }));
    const m = authenticateMessage({ challenge: c, user: 'alice', password: 'pw', domain: '', negotiateMessage: negotiateMessage() });
    const t = readType3(m);
    assert.equal(m.readUInt32LE(32), 72, 'the payload (domain first) starts after the Version field: no MIC field');
    assert.equal(t.lm.length, 24);
    assert.notDeepEqual(t.lm, Buffer.alloc(24));
    const ticks = t.nt.readBigUInt64LE(24);
    const now = (BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n;
    assert.ok(now - ticks < 600_000_000n && ticks <= now, 'FILETIME of now');
  });

  test('a server that refuses Unicode gets OEM names; a name outside Latin-1 is then an error, not a mangled name', () => {
    const c = parseChallengeMessage(buildChallenge({ flags: 0x00088206 }));
    const m = authenticateMessage({ challenge: c, user: 'alice', password: 'pw', domain: 'DOM' });
    assert.equal(m.readUInt32LE(60) & NtlmFlags.UNICODE, 0);
    assert.equal(m.readUInt32LE(60) & NtlmFlags.OEM, NtlmFlags.OEM);
    assert.equal(m.subarray(m.readUInt32LE(40), m.readUInt32LE(40) + m.readUInt16LE(36)).toString('latin1'), 'alice');
    assert.equal(m.subarray(m.readUInt32LE(32), m.readUInt32LE(32) + m.readUInt16LE(28)).toString('latin1'), 'DOM');
    assert.throws(
      () => authenticateMessage({ challenge: c, user: 'Ωmega', password: 'secret-pw', domain: '' }),
      (e: unknown) => isSymsrvError(e, 'E_PROXY_AUTH') && !e.message.includes('secret-pw') && !e.message.includes('Ωmega'),
    );
  });
});

describe('hostile or malformed CHALLENGE_MESSAGEs are SymsrvErrors, never a crash', () => {
  const good = (): Buffer => Buffer.from(CHALLENGE_MESSAGE);
  /** The §4.2.4.3 message with one change. */
  const patched = (change: (b: Buffer) => void, b: Buffer = good()): (() => Buffer) => () => {
    change(b);
    return b;
  };
  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['empty', () => Buffer.alloc(0), /shorter than the 32-byte header/],
    ['truncated header', () => good().subarray(0, 31), /shorter than the 32-byte header/],
    ['bad signature', patched((b) => b.writeUInt8(0x4f, 0)), /NTLMSSP/],
    ['type 3 instead of 2', patched((b) => b.writeUInt32LE(3, 8)), /message type is 3/],
    ['TargetName offset past the end', patched((b) => b.writeUInt32LE(0x1000, 16)), /TargetName .* outside/],
    ['TargetName offset 0xffffffff', patched((b) => b.writeUInt32LE(0xffffffff, 16)), /TargetName .* outside/],
    ['TargetName length 65535', patched((b) => b.writeUInt16LE(0xffff, 12)), /TargetName .* outside/],
    ['odd Unicode TargetName', patched((b) => b.writeUInt16LE(11, 12)), /odd length/],
    ['TargetInfo past the end', patched((b) => b.writeUInt16LE(0x25, 40)), /TargetInfo .* outside/],
    ['TargetInfo offset 0xfffffff0', patched((b) => b.writeUInt32LE(0xfffffff0, 44)), /TargetInfo .* outside/],
    ['truncated in the payload', () => good().subarray(0, 70), /outside/],
    ['AV_PAIR length past the TargetInfo', patched((b) => b.writeUInt16LE(0x200, 0x46)), /runs past the end/],
    ['TargetInfo without MsvAvEOL', patched((b) => b.writeUInt16LE(0x20, 40)), /no MsvAvEOL|inside an AV_PAIR/],
    ['TargetInfo cut inside an AV_PAIR header', patched((b) => b.writeUInt16LE(0x22, 40)), /inside an AV_PAIR header/],
    ['TARGET_INFO flag but a 32-byte message', patched((b) => b.writeUInt16LE(0, 12), good().subarray(0, 32)), /ends before the TargetInfo/],
    [
      'MsvAvTimestamp of 4 bytes',
      () => buildChallenge({ pairs: [[7, Buffer.alloc(4)]] }),
      /MsvAvTimestamp is 4 bytes/,
    ],
  ];
  for (const [name, make, why] of cases) {
    test(name, () => {
      assert.throws(
        () => parseChallengeMessage(make()),
        (e: unknown) => isSymsrvError(e, 'E_PROXY_AUTH') && /malformed NTLM challenge/.test(e.message) && why.test(e.message),
      );
    });
  }

  test('a 32-byte message without TARGET_INFO (NT 4 era) is fine: no target info', () => {
    const b = Buffer.from(CHALLENGE_MESSAGE.subarray(0, 32));
    b.writeUInt32LE(0x00008201, 20);
    b.writeUInt16LE(0, 12);
    const c = parseChallengeMessage(b);
    assert.equal(c.targetInfo.length, 0);
    assert.equal(c.targetName, '');
    // And it can still be answered (the blob then carries only MsvAvEOL).
    const t = readType3(authenticateMessage({ challenge: c, user: 'u', password: 'p', domain: '' }));
    assert.deepEqual(t.nt.subarray(44), Buffer.alloc(8));
  });

  test('10 000 random mutations: parse returns or throws a SymsrvError, nothing else', () => {
    const seeds = [CHALLENGE_MESSAGE, buildChallenge({ pairs: [[7, Buffer.alloc(8)], [2, u16('D')]] })];
    for (let i = 0; i < 10_000; i++) {
      const b = Buffer.from(seeds[i % 2]!);
      const n = 1 + (i % 4);
      for (let k = 0; k < n; k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      const cut = i % 3 === 0 ? b.subarray(0, Math.floor(Math.random() * b.length)) : b;
      try {
        const c = parseChallengeMessage(cut);
        // What parses must also be answerable without a crash.
        authenticateMessage({ challenge: c, user: 'u', password: 'p', domain: '', negotiateMessage: negotiateMessage() });
      } catch (e) {
        if (!isSymsrvError(e)) throw e;
      }
    }
  });
});

