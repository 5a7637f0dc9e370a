import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { startDaemon } from './daemon.js';

/**
 * mitmproxy 8 (`mitmdump`, Debian's) with `--proxyauth USER:PASS` (Basic), on 127.0.0.1 and a
 * random free port, its confdir (where it makes its CA on first start) in a temp dir.
 *
 * It intercepts TLS: a CONNECT is answered 200 by mitmproxy itself, which then speaks TLS to the
 * client with a certificate it signs on the fly, and to the origin as a client. That is what
 * mitmproxy is run for, and what every TLS-inspecting company proxy does, so a user trusts its CA
 * (`ca`, from the confdir) with `symsrv --cacert`, as mitmproxy's documentation tells them to;
 * `--ignore-hosts '.*'` (tunnels passed through untouched) would test nothing a plain CONNECT
 * proxy does not. mitmproxy trusts the origin's CA through `ssl_verify_upstream_trusted_ca`.
 */
export interface Mitmproxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** mitmproxy's CA certificate (PEM): what a client trusts to accept the certificates it makes. */
  ca: string;
  /** mitmdump's flow log (stdout): `<< 407 Proxy Authentication Required` per challenge. */
  logFile: string;
  /** `<< 407` lines in the flow log so far (absolute); waits for open connections first. */
  count407(): Promise<number>;
  stop(): Promise<void>;
}

export async function startMitmproxy(opts: { user: string; password: string; upstreamCa: string }): Promise<Mitmproxy> {
  const dir = await makeTempDir('symsrv-mitmproxy-');
  const logFile = join(dir, 'mitmdump.log');
  try {
    const daemon = await startDaemon({
      name: 'mitmdump',
      // Through sh only to send its output to a file (launch keeps 64 KB of output, a run logs more); exec keeps the pid.
      cmd: '/bin/sh',
      log: logFile,
      startMs: 20_000, // Python start-up and the CA's key: 3-4 s here, more on a loaded machine
      args: (port) => [
        '-c',
        `exec /usr/bin/mitmdump "$@" >>'${logFile}' 2>&1`,
        'mitmdump',
        '--listen-host', '127.0.0.1',
        '--listen-port', String(port),
        '--proxyauth', `${opts.user}:${opts.password}`,
        '--set', `confdir=${dir}`,
        '--set', `ssl_verify_upstream_trusted_ca=${opts.upstreamCa}`,
      ],
    });
    let stopping: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${daemon.port}`,
      port: daemon.port,
      ca: join(dir, 'mitmproxy-ca-cert.pem'),
      logFile,
      count407: async () => {
        await daemon.settled();
        const text = await readFile(logFile, 'utf8').catch(() => '');
        return text.split('\n').filter((l) => /^\s*<< 407 /.test(l)).length;
      },
      stop: () => (stopping ??= daemon.stop().then(() => removeDir(dir))),
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}
