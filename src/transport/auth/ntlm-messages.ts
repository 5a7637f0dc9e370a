/**
 * NTLM messages: NTLMv2 as specified in [MS-NLMP], written here by hand. This module builds and
 * parses the three messages and does their cryptography; it knows nothing of HTTP or connections
 * (the handshake of one connection is `ntlm.ts`).
 *
 * Why by hand: no maintained Node library does NTLM for a proxy. httpntlm and ntlm-client only read
 * `WWW-Authenticate` on a 401 (never `Proxy-Authenticate` on a 407) and open a new connection per
 * request, while NTLM's three messages must travel on ONE kept-alive connection. Their message
 * arithmetic works when driven by hand; keeping the connection is the part they lack.
 *
 * Only NTLMv2 responses are sent (Samba's default is `ntlm auth = ntlmv2-only`, and Windows
 * domains at LmCompatibilityLevel 5 refuse LM and NTLMv1). NTLM has no version negotiation
 * (MS-NLMP 3.3): there is nothing to fall back to and nothing to downgrade.
 *
 * MIC: when the Type 2 carries MsvAvTimestamp (Windows since Server 2008 and Samba do), MS-NLMP
 * 3.1.5.1.2 says the client SHOULD send a MIC; it is sent, with the MsvAvFlags 0x2 bit that says
 * so, and the LMv2 response is then Z(24) (MS-NLMP 3.3.2). Without MsvAvTimestamp (the §4.2.4
 * example, old servers) no MIC is sent. No channel bindings and no MsvAvTargetName are sent: a
 * proxy is reached over plain TCP (there is no TLS channel to bind to), and neither squid's helper
 * nor Windows requires them for a proxy.
 *
 * Security: the password is used only to compute the NT hash, inside authenticateMessage; neither
 * is stored, returned, logged, or put into an error message. What leaves is the Type 3, which
 * carries proofs of the password, not the password.
 */

import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { SymsrvError } from '../../errors.js';

// js-md4: MD4 by hand, because Node 20's OpenSSL 3 refuses `createHash('md4')` (legacy provider).
// Loaded with require: it is CommonJS and ships no type declarations.
const md4 = createRequire(import.meta.url)('js-md4') as { arrayBuffer(message: Uint8Array): ArrayBuffer };

/** NEGOTIATE flags (MS-NLMP 2.2.2.5). */
export const NtlmFlags = {
  UNICODE: 0x00000001,
  OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  SIGN: 0x00000010,
  SEAL: 0x00000020,
  LM_KEY: 0x00000080,
  NTLM: 0x00000200,
  ANONYMOUS: 0x00000800,
  OEM_DOMAIN_SUPPLIED: 0x00001000,
  OEM_WORKSTATION_SUPPLIED: 0x00002000,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  TARGET_TYPE_SERVER: 0x00020000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  IDENTIFY: 0x00100000,
  TARGET_INFO: 0x00800000,
  VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000,
  KEY_EXCH: 0x40000000,
  NEGOTIATE_56: 0x80000000,
} as const;

const F = NtlmFlags;

/**
 * What the Type 1 asks for, and why each:
 * - UNICODE and OEM: both string forms offered, the server picks (Unicode, so that user names
 *   outside ASCII survive; OEM for old servers);
 * - REQUEST_TARGET: the server names its domain in the Type 2 (curl asks too);
 * - NTLM: NTLM authentication itself;
 * - ALWAYS_SIGN: MS-NLMP 2.2.2.5 says it MUST be set in a NEGOTIATE_MESSAGE;
 * - EXTENDED_SESSIONSECURITY: curl's "NTLM2 key"; servers answer with it when they do NTLMv2-era
 *   security, and curl sends NTLMv2 only when it is echoed (we send NTLMv2 anyway);
 * - TARGET_INFO: asks for the AV pairs that the NTLMv2 response must cover;
 * - VERSION: the 8-byte Version field, which keeps the AUTHENTICATE_MESSAGE's MIC at its fixed
 *   offset 72 for servers that locate it by the flag (Samba's client and Windows set it too);
 * - 128 and 56: the key strengths; a Windows server with "Require 128-bit encryption"
 *   (NtlmMinServerSec) refuses a client that does not offer 128.
 * Not asked: SIGN/SEAL/KEY_EXCH (HTTP carries no NTLM-signed or sealed messages after the
 * handshake), LM_KEY (weak, LM only), IDENTIFY, ANONYMOUS.
 * curl 7.88 sends only OEM | REQUEST_TARGET | NTLM | EXTENDED_SESSIONSECURITY | ALWAYS_SIGN.
 */
export const NEGOTIATE_FLAGS = unsigned(
  F.UNICODE |
    F.OEM |
    F.REQUEST_TARGET |
    F.NTLM |
    F.ALWAYS_SIGN |
    F.EXTENDED_SESSIONSECURITY |
    F.TARGET_INFO |
    F.VERSION |
    F.NEGOTIATE_128 |
    F.NEGOTIATE_56,
);

/**
 * Flags of a Type 2 that the Type 3 repeats. SIGN, SEAL and KEY_EXCH are not asked for, but are
 * honoured when a server grants them (the §4.2.4 example does): KEY_EXCH changes the Type 3 (an
 * encrypted session key), SIGN and SEAL cost nothing because no message is signed afterwards.
 */
const ECHOED_FLAGS = NEGOTIATE_FLAGS | F.SIGN | F.SEAL | F.KEY_EXCH;

/**
 * Our Version field (MS-NLMP 2.2.2.10): 6.1 build 0, NTLMSSP revision 15, as Samba's client
 * sends. It is for debugging only; a non-Windows client has no true value to put there.
 */
export const CLIENT_VERSION = Buffer.from([6, 1, 0, 0, 0, 0, 0, 0x0f]);

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

/** AV_PAIR ids (MS-NLMP 2.2.2.1). */
const AV_EOL = 0;
const AV_FLAGS = 6;
const AV_TIMESTAMP = 7;
/** MsvAvFlags bit: the AUTHENTICATE_MESSAGE carries a MIC. */
const AV_FLAG_MIC = 0x2;

const MIC_OFFSET = 72;

export interface ParsedChallenge {
  flags: number;
  serverChallenge: Buffer;
  /** The server's domain or name (TargetName), decoded; '' when absent. */
  targetName: string;
  /** TargetInfo: the AV pairs as sent (MsvAvEOL included); empty when absent. */
  targetInfo: Buffer;
  /** MsvAvTimestamp's 8 bytes (FILETIME, little-endian) when the AV pairs carry one. */
  timestamp?: Buffer;
  /** The whole message as received (the MIC covers it). */
  raw: Buffer;
}

/** NEGOTIATE_MESSAGE (Type 1, MS-NLMP 2.2.1.1). `domain`/`workstation`, when given, travel as OEM (Latin-1) strings. */
export function negotiateMessage(options: { domain?: string; workstation?: string } = {}): Buffer {
  const domain = options.domain ? oem(options.domain) : Buffer.alloc(0);
  const workstation = options.workstation ? oem(options.workstation) : Buffer.alloc(0);
  let flags = NEGOTIATE_FLAGS;
  if (domain.length > 0) flags |= F.OEM_DOMAIN_SUPPLIED;
  if (workstation.length > 0) flags |= F.OEM_WORKSTATION_SUPPLIED;
  const header = Buffer.alloc(40);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(1, 8);
  header.writeUInt32LE(unsigned(flags), 12);
  writeSecBuffer(header, 16, domain.length, 40);
  writeSecBuffer(header, 24, workstation.length, 40 + domain.length);
  CLIENT_VERSION.copy(header, 32);
  return Buffer.concat([header, domain, workstation]);
}

/**
 * CHALLENGE_MESSAGE (Type 2, MS-NLMP 2.2.1.2). Every offset and length is checked against the
 * buffer: a malformed or hostile message is a SymsrvError (E_PROXY_AUTH), never a read out of bounds.
 */
export function parseChallengeMessage(buf: Buffer): ParsedChallenge {
  if (buf.length < 32) bad(`it is ${buf.length} bytes, shorter than the 32-byte header`);
  if (!buf.subarray(0, 8).equals(SIGNATURE)) bad('it does not start with "NTLMSSP\\0"');
  const type = buf.readUInt32LE(8);
  if (type !== 2) bad(`its message type is ${type}, not 2`);
  const flags = buf.readUInt32LE(20);
  const serverChallenge = Buffer.from(buf.subarray(24, 32));
  const unicode = (flags & F.UNICODE) !== 0;

  const nameBytes = readSecBuffer(buf, 12, 'TargetName');
  if (unicode && nameBytes.length % 2 !== 0) bad('its Unicode TargetName has an odd length');
  const targetName = unicode ? nameBytes.toString('utf16le') : nameBytes.toString('latin1');

  // TargetInfoFields (bytes 40-47) exist in every message since NT 4 SP4; an older, 32-byte
  // message has none, and then no AV pairs.
  let targetInfo: Buffer = Buffer.alloc(0);
  if (buf.length >= 48) targetInfo = Buffer.from(readSecBuffer(buf, 40, 'TargetInfo'));
  else if ((flags & F.TARGET_INFO) !== 0) bad('it sets NEGOTIATE_TARGET_INFO but ends before the TargetInfo fields');
  const pairs = parseAvPairs(targetInfo);
  const ts = pairs.find((p) => p.id === AV_TIMESTAMP);
  if (ts && ts.value.length !== 8) bad(`its MsvAvTimestamp is ${ts.value.length} bytes, not 8`);

  return {
    flags,
    serverChallenge,
    targetName,
    targetInfo,
    ...(ts ? { timestamp: Buffer.from(ts.value) } : {}),
    raw: Buffer.from(buf),
  };
}

export interface AuthenticateInput {
  challenge: ParsedChallenge;
  user: string;
  password: string;
  /** The user's domain as typed; '' when none (the server then uses its own: Samba its workgroup). */
  domain: string;
  workstation?: string;
  /** Tests only: the 8-byte client challenge (random otherwise). */
  clientChallenge?: Buffer;
  /** Tests only: the 8-byte FILETIME of the NTLMv2 blob (else MsvAvTimestamp, else now). */
  timestamp?: Buffer;
  /** Tests only: the 16-byte key sent under key exchange (random otherwise). */
  exportedSessionKey?: Buffer;
  /** The Type 1 sent on this connection: needed for the MIC, which is sent only when this is given. */
  negotiateMessage?: Buffer;
  /** Tests only: the 8-byte Version field (CLIENT_VERSION otherwise). */
  version?: Buffer;
}

/** The NTLMv2 computations of MS-NLMP 3.3.2, exposed for the §4.2.4 test vectors. */
export interface Ntlmv2Result {
  ntProofStr: Buffer;
  ntChallengeResponse: Buffer;
  lmChallengeResponse: Buffer;
  sessionBaseKey: Buffer;
}

/** NTOWFv2 = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) + UserDom)) (MS-NLMP 3.3.2). */
export function ntowfv2(password: string, user: string, domain: string): Buffer {
  const ntHash = Buffer.from(md4.arrayBuffer(Buffer.from(password, 'utf16le')));
  try {
    return hmacMd5(ntHash, Buffer.from(upcase(user) + domain, 'utf16le'));
  } finally {
    ntHash.fill(0); // the NT hash is password-equivalent: it does not outlive this call
  }
}

/**
 * MS-NLMP 3.3.2 ComputeResponse for NTLMv2. `avPairs` is the target info to send (MsvAvEOL
 * included); `zeroLm` gives Z(24) as the LM response (when the server sent MsvAvTimestamp).
 */
export function ntlmv2Response(input: {
  responseKeyNT: Buffer;
  serverChallenge: Buffer;
  clientChallenge: Buffer;
  timestamp: Buffer;
  avPairs: Buffer;
  zeroLm: boolean;
}): Ntlmv2Result {
  const { responseKeyNT: key, serverChallenge, clientChallenge, timestamp, avPairs } = input;
  // temp = Responserversion(1) HiResponserversion(1) Z(6) Time ClientChallenge Z(4) ServerName Z(4)
  const temp = Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]),
    timestamp,
    clientChallenge,
    Buffer.alloc(4),
    avPairs,
    Buffer.alloc(4),
  ]);
  const ntProofStr = hmacMd5(key, Buffer.concat([serverChallenge, temp]));
  const lmChallengeResponse = input.zeroLm
    ? Buffer.alloc(24)
    : Buffer.concat([hmacMd5(key, Buffer.concat([serverChallenge, clientChallenge])), clientChallenge]);
  return {
    ntProofStr,
    ntChallengeResponse: Buffer.concat([ntProofStr, temp]),
    lmChallengeResponse,
    sessionBaseKey: hmacMd5(key, ntProofStr),
  };
}

/** MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with a zero MIC) (MS-NLMP 3.1.5.1.2). */
export function computeMic(exportedSessionKey: Buffer, type1: Buffer, type2: Buffer, type3ZeroMic: Buffer): Buffer {
  return hmacMd5(exportedSessionKey, Buffer.concat([type1, type2, type3ZeroMic]));
}

/** The flags a Type 3 carries for a given Type 2 (see ECHOED_FLAGS). */
export function authenticateFlags(challengeFlags: number): number {
  let flags = (challengeFlags & ECHOED_FLAGS) | F.REQUEST_TARGET; // REQUEST_TARGET: what we asked for
  if ((flags & F.UNICODE) !== 0) flags &= ~F.OEM;
  return unsigned(flags);
}

/** AUTHENTICATE_MESSAGE (Type 3, MS-NLMP 2.2.1.3) with NTLMv2 responses. */
export function authenticateMessage(input: AuthenticateInput): Buffer {
  const { challenge } = input;
  const flags = authenticateFlags(challenge.flags);
  const unicode = (flags & F.UNICODE) !== 0;
  const str = (s: string): Buffer => (unicode ? Buffer.from(s, 'utf16le') : oem(s));

  const withMic = input.negotiateMessage !== undefined && challenge.timestamp !== undefined;
  const avPairs = targetInfoToSend(challenge.targetInfo, withMic);
  const timestamp = input.timestamp ?? challenge.timestamp ?? filetimeNow();
  const clientChallenge = input.clientChallenge ?? randomBytes(8);
  if (timestamp.length !== 8 || clientChallenge.length !== 8) throw new RangeError('timestamp and clientChallenge are 8 bytes');

  const responseKeyNT = ntowfv2(input.password, input.user, input.domain);
  const r = ntlmv2Response({
    responseKeyNT,
    serverChallenge: challenge.serverChallenge,
    clientChallenge,
    timestamp,
    avPairs,
    zeroLm: challenge.timestamp !== undefined,
  });
  responseKeyNT.fill(0);

  // KeyExchangeKey is the SessionBaseKey for NTLMv2 (MS-NLMP 3.4.5.1).
  let exportedSessionKey = r.sessionBaseKey;
  let encryptedRandomSessionKey: Buffer = Buffer.alloc(0);
  if ((flags & F.KEY_EXCH) !== 0) {
    exportedSessionKey = input.exportedSessionKey ?? randomBytes(16);
    encryptedRandomSessionKey = rc4(r.sessionBaseKey, exportedSessionKey);
  }

  const hasVersion = (flags & F.VERSION) !== 0 || withMic;
  const headerLength = withMic ? MIC_OFFSET + 16 : hasVersion ? 72 : 64;
  // Payload order as in the MS-NLMP §4.2.4.3 example.
  const payload: Array<[fieldOffset: number, data: Buffer]> = [
    [28, str(input.domain)],
    [36, str(input.user)],
    [44, str(input.workstation ?? '')],
    [12, r.lmChallengeResponse],
    [20, r.ntChallengeResponse],
    [52, encryptedRandomSessionKey],
  ];
  const header = Buffer.alloc(headerLength);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let at = headerLength;
  for (const [field, data] of payload) {
    if (data.length > 0xffff) {
      throw new SymsrvError(
        'E_PROXY_AUTH',
        'the NTLM AUTHENTICATE message would not fit: the user name, domain or proxy target info is too long',
      );
    }
    writeSecBuffer(header, field, data.length, at);
    at += data.length;
  }
  header.writeUInt32LE(flags, 60);
  if (hasVersion) (input.version ?? CLIENT_VERSION).copy(header, 64);
  const message = Buffer.concat([header, ...payload.map(([, data]) => data)]);
  if (withMic) {
    computeMic(exportedSessionKey, input.negotiateMessage!, challenge.raw, message).copy(message, MIC_OFFSET);
  }
  // This message goes to the proxy only (ntlm.ts sends it in Proxy-Authorization on the connection
  // that received the Type 2). It holds no password, only proofs of it.
  return message;
}

// ---- helpers ---------------------------------------------------------------------------------

function bad(what: string): never {
  throw new SymsrvError('E_PROXY_AUTH', `the proxy sent a malformed NTLM challenge (Type 2): ${what}`);
}

/** The bytes of a security buffer (len, maxlen, offset) at `at`, checked against the message. */
function readSecBuffer(buf: Buffer, at: number, name: string): Buffer {
  const length = buf.readUInt16LE(at);
  const offset = buf.readUInt32LE(at + 4);
  if (length === 0) return Buffer.alloc(0);
  if (offset > buf.length || length > buf.length - offset) {
    bad(`its ${name} (${length} bytes at offset ${offset}) lies outside the ${buf.length}-byte message`);
  }
  return buf.subarray(offset, offset + length);
}

function writeSecBuffer(buf: Buffer, at: number, length: number, offset: number): void {
  buf.writeUInt16LE(length, at);
  buf.writeUInt16LE(length, at + 2);
  buf.writeUInt32LE(offset, at + 4);
}

interface AvPair {
  id: number;
  value: Buffer;
}

/** AV_PAIRs up to MsvAvEOL; an empty target info has none. Each length is checked. */
function parseAvPairs(info: Buffer): AvPair[] {
  const pairs: AvPair[] = [];
  let at = 0;
  while (at < info.length) {
    if (info.length - at < 4) bad(`its TargetInfo ends inside an AV_PAIR header at byte ${at}`);
    const id = info.readUInt16LE(at);
    const length = info.readUInt16LE(at + 2);
    if (length > info.length - at - 4) bad(`its TargetInfo AV_PAIR ${id} (${length} bytes) runs past the end`);
    if (id === AV_EOL) return pairs;
    pairs.push({ id, value: info.subarray(at + 4, at + 4 + length) });
    at += 4 + length;
  }
  if (info.length > 0) bad('its TargetInfo has no MsvAvEOL');
  return pairs;
}

/** The target info for the NTLMv2 blob: the server's AV pairs, MsvAvFlags with the MIC bit when a MIC is sent, MsvAvEOL. */
function targetInfoToSend(info: Buffer, withMic: boolean): Buffer {
  const pairs = parseAvPairs(info).map((p) => ({ id: p.id, value: Buffer.from(p.value) }));
  if (withMic) {
    const flagsPair = pairs.find((p) => p.id === AV_FLAGS && p.value.length === 4);
    if (flagsPair) flagsPair.value.writeUInt32LE(unsigned(flagsPair.value.readUInt32LE(0) | AV_FLAG_MIC), 0);
    else pairs.push({ id: AV_FLAGS, value: Buffer.from([AV_FLAG_MIC, 0, 0, 0]) });
  }
  const parts: Buffer[] = [];
  for (const p of pairs) {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(p.id, 0);
    h.writeUInt16LE(p.value.length, 2);
    parts.push(h, p.value);
  }
  parts.push(Buffer.alloc(4)); // MsvAvEOL
  return Buffer.concat(parts);
}

/** JavaScript's `|` gives a signed 32-bit number; flags are unsigned (0x80000000 is NEGOTIATE_56). */
function unsigned(n: number): number {
  return n >>> 0;
}

function hmacMd5(key: Buffer, data: Buffer): Buffer {
  return createHmac('md5', key).update(data).digest();
}

/** RC4 (for the key exchange only): Node 20's OpenSSL 3 no longer offers it. */
function rc4(key: Buffer, data: Buffer): Buffer {
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 0xff;
    [s[i], s[j]] = [s[j]!, s[i]!];
  }
  const out = Buffer.alloc(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + s[i]!) & 0xff;
    [s[i], s[j]] = [s[j]!, s[i]!];
    out[n] = data[n]! ^ s[(s[i]! + s[j]!) & 0xff]!;
  }
  return out;
}

/** Now as a FILETIME: 100 ns ticks since 1601-01-01, little-endian. */
function filetimeNow(): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n);
  return b;
}

/**
 * Uppercase(User) as Windows does it: one UTF-16 unit at a time, never changing the length
 * (JavaScript's toUpperCase turns `ß` into `SS`; RtlUpcaseUnicodeString keeps it).
 */
function upcase(s: string): string {
  let out = '';
  for (const ch of s) {
    const u = ch.toUpperCase();
    out += u.length === ch.length ? u : ch;
  }
  return out;
}

/** An OEM string, used only when the server refused Unicode: Latin-1, or an error rather than a silently mangled name. */
function oem(s: string): Buffer {
  if (/[^\u0000-\u00ff]/.test(s)) {
    throw new SymsrvError(
      'E_PROXY_AUTH',
      'the proxy did not accept Unicode for NTLM, and a user, domain or workstation name has characters outside Latin-1',
    );
  }
  return Buffer.from(s, 'latin1');
}
