import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, isListening } from './ports.js';

/**
 * lighttpd as an independent Digest verifier for SHA-256: squid's Digest (the rig) knows only
 * MD5, and lighttpd's mod_auth checks `algorithm=SHA-256` responses (RFC 7616). It challenges
 * with 401 / WWW-Authenticate rather than 407 / Proxy-Authenticate, but a Digest response is
 * computed the same way for both (RFC 7616 §3.4), so it checks the same code.
 */
export interface DigestServer {
  url: string;
  stop(): Promise<void>;
}

export async function startDigestServer(dir: string, o: { user: string; password: string; realm: string; algorithm: 'MD5' | 'SHA-256' }): Promise<DigestServer> {
  await mkdir(join(dir, 'www'), { recursive: true });
  await writeFile(join(dir, 'www', 'x.bin'), 'hello from lighttpd\n');
  const ha1 = createHash(o.algorithm === 'MD5' ? 'md5' : 'sha256').update(`${o.user}:${o.realm}:${o.password}`).digest('hex');
  await writeFile(join(dir, 'htdigest'), `${o.user}:${o.realm}:${ha1}\n`);
  const port = await freePort();
  await writeFile(
    join(dir, 'lighttpd.conf'),
    `server.modules = ("mod_auth", "mod_authn_file")
server.document-root = "${join(dir, 'www')}"
server.bind = "127.0.0.1"
server.port = ${port}
server.errorlog = "${join(dir, 'error.log')}"
auth.backend = "htdigest"
auth.backend.htdigest.userfile = "${join(dir, 'htdigest')}"
auth.require = ( "/" => ( "method" => "digest", "algorithm" => "${o.algorithm}", "realm" => "${o.realm}", "require" => "valid-user" ) )
`,
  );
  const child: ChildProcess = spawn('/usr/sbin/lighttpd', ['-D', '-f', join(dir, 'lighttpd.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 300 && !(await isListening(port)); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!(await isListening(port))) {
    child.kill('SIGKILL');
    throw new Error(`lighttpd did not start on 127.0.0.1:${port} (see ${join(dir, 'error.log')})`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
