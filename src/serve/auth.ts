import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import bcrypt from 'bcryptjs';
import { SymsrvError } from '../errors.js';

/**
 * Client authentication for `symsrv serve` beyond localhost: a bearer token (`--token-file`),
 * or Basic with an htpasswd file (`--users`, lines `user:HASH` as Apache's htpasswd writes them
 * with `-B` (bcrypt, checked with bcryptjs) or `-s` ({SHA})). Files holding secrets must not be
 * readable by others (mode 0600 or stricter), as ssh demands of its keys.
 */
export type ClientAuth = (req: IncomingMessage) => Promise<boolean>;

export async function readSecretFile(path: string, what: string): Promise<string> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new SymsrvError('E_USAGE', `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { subject: path });
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new SymsrvError('E_USAGE', `the ${what} ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`, { subject: path });
  }
  return readFile(path, 'utf8');
}

export async function tokenAuth(path: string): Promise<ClientAuth> {
  const token = (await readSecretFile(path, 'token file')).trim();
  if (token.length < 16) throw new SymsrvError('E_USAGE', `the token in ${path} is shorter than 16 characters`, { subject: path });
  const expected = Buffer.from(`Bearer ${token}`);
  return async (req) => {
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
}

export async function usersAuth(path: string): Promise<ClientAuth> {
  const users = new Map<string, string>();
  for (const [i, line] of (await readSecretFile(path, 'users file')).split(/\r?\n/).entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const hash = line.slice(colon + 1).trim();
    if (colon <= 0 || !(/^\$2[aby]\$/.test(hash) || hash.startsWith('{SHA}'))) {
      throw new SymsrvError('E_USAGE', `${path} line ${i + 1}: expected user:HASH with a bcrypt (htpasswd -B) or {SHA} (htpasswd -s) hash`, { subject: path });
    }
    users.set(line.slice(0, colon), hash);
  }
  // bcrypt costs ~0.1 s a check by design: a header that passed once is remembered (bounded).
  const verified = new Set<string>();
  const check = async (header: string): Promise<boolean> => {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    if (!m) return false;
    const text = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return false;
    const hash = users.get(text.slice(0, colon));
    if (!hash) return false;
    const password = text.slice(colon + 1);
    if (hash.startsWith('{SHA}')) {
      const got = Buffer.from('{SHA}' + createHash('sha1').update(password).digest('base64'));
      const want = Buffer.from(hash);
      return got.length === want.length && timingSafeEqual(got, want);
    }
    return bcrypt.compare(password, hash);
  };
  return async (req) => {
    const header = req.headers.authorization ?? '';
    if (verified.has(header)) return true;
    if (!(await check(header))) return false;
    if (verified.size >= 1000) verified.clear();
    verified.add(header);
    return true;
  };
}
