/**
 * NTLM test helpers shared by src/transport/auth/ntlm-messages.test.ts and ntlm.test.ts: a
 * CHALLENGE_MESSAGE as a server builds it, and the fields of an AUTHENTICATE_MESSAGE read back.
 */

import { randomBytes } from 'node:crypto';
import { CLIENT_VERSION } from '../../src/transport/auth/ntlm-messages.js';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
export const u16 = (s: string): Buffer => Buffer.from(s, 'utf16le');

/** A CHALLENGE_MESSAGE as a server would build it. */
export function buildChallenge(opts: {
  flags?: number;
  targetName?: string;
  pairs?: Array<[id: number, value: Buffer]>;
  challenge?: Buffer;
}): Buffer {
  const flags = opts.flags ?? 0xe28a8235;
  const name = u16(opts.targetName ?? 'SYMSRV');
  const info = Buffer.concat([
    ...(opts.pairs ?? []).map(([id, v]) => {
      const h = Buffer.alloc(4);
      h.writeUInt16LE(id, 0);
      h.writeUInt16LE(v.length, 2);
      return Buffer.concat([h, v]);
    }),
    Buffer.alloc(4),
  ]);
  const h = Buffer.alloc(56);
  h.write('NTLMSSP\0', 0, 'latin1');
  h.writeUInt32LE(2, 8);
  h.writeUInt16LE(name.length, 12);
  h.writeUInt16LE(name.length, 14);
  h.writeUInt32LE(56, 16);
  h.writeUInt32LE(flags >>> 0, 20);
  (opts.challenge ?? randomBytes(8)).copy(h, 24);
  h.writeUInt16LE(info.length, 40);
  h.writeUInt16LE(info.length, 42);
  h.writeUInt32LE(56 + name.length, 44);
  CLIENT_VERSION.copy(h, 48);
  return Buffer.concat([h, name, info]);
}

/** The fields of an AUTHENTICATE_MESSAGE we build, read back. */
export interface Type3Fields {
  flags: number;
  lm: Buffer;
  nt: Buffer;
  domain: string;
  user: string;
  workstation: string;
  key: Buffer;
}

export function readType3(m: Buffer): Type3Fields {
  const field = (at: number): Buffer => m.subarray(m.readUInt32LE(at + 4), m.readUInt32LE(at + 4) + m.readUInt16LE(at));
  return {
    flags: m.readUInt32LE(60),
    lm: field(12),
    nt: field(20),
    domain: field(28).toString('utf16le'),
    user: field(36).toString('utf16le'),
    workstation: field(44).toString('utf16le'),
    key: field(52),
  };
}
