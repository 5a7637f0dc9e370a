import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { startDaemon } from './daemon.js';
import { run } from './procs.js';

/**
 * Apache httpd 2.4 (Debian's apache2-bin) as an authenticating forward proxy: mod_proxy,
 * mod_proxy_http, mod_proxy_connect, and `<Proxy "*">` with AuthType Basic (mod_auth_basic) or
 * Digest (mod_auth_digest, MD5, qop=auth), `Require valid-user`. One process (`-X`), in the
 * foreground, with its own ServerRoot, PidFile, ErrorLog and access log in a temp dir; modules
 * are loaded from /usr/lib/apache2/modules, no file of /etc/apache2 is read.
 */
export interface ApacheProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** `%h %u "%r" %>s %b` per request; a CONNECT's line is written when its tunnel closes. */
  accessLog: string;
  errorLog: string;
  /** 407 lines in the access log so far (absolute); waits for open connections' lines first. */
  count407(): Promise<number>;
  stop(): Promise<void>;
}

export const APACHE_REALM = 'symsrv-rig';
const MODULES = '/usr/lib/apache2/modules';

export async function startApacheProxy(opts: { scheme: 'basic' | 'digest'; user: string; password: string; connectPorts: number[] }): Promise<ApacheProxy> {
  const dir = await makeTempDir('symsrv-apache-');
  const accessLog = join(dir, 'logs', 'access.log');
  const errorLog = join(dir, 'logs', 'error.log');
  try {
    // The worker runs as www-data: it must traverse dir and read the password file.
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'logs'));
    const userFile = join(dir, opts.scheme === 'basic' ? 'htpasswd' : 'htdigest');
    if (opts.scheme === 'basic') {
      const { stdout } = await run('openssl', ['passwd', '-apr1', '-stdin'], { input: `${opts.password}\n` });
      await writeFile(userFile, `${opts.user}:${stdout.trim()}\n`, { mode: 0o644 });
    } else {
      const ha1 = createHash('md5').update(`${opts.user}:${APACHE_REALM}:${opts.password}`).digest('hex');
      await writeFile(userFile, `${opts.user}:${APACHE_REALM}:${ha1}\n`, { mode: 0o644 });
    }
    const conf = join(dir, 'httpd.conf');
    const mod = (name: string): string => `LoadModule ${name}_module ${MODULES}/mod_${name}.so`;
    const daemon = await startDaemon({
      name: `apache2 (${opts.scheme})`,
      cmd: '/usr/sbin/apache2',
      log: errorLog,
      args: async (port) => {
        await writeFile(
          conf,
          [
            `ServerRoot ${dir}`,
            'ServerName localhost',
            `Listen 127.0.0.1:${port}`,
            `PidFile ${join(dir, 'httpd.pid')}`,
            `DefaultRuntimeDir ${dir}`,
            `Mutex file:${dir} default`,
            `ErrorLog ${errorLog}`,
            'LogLevel warn',
            'User www-data',
            'Group www-data',
            ...['mpm_event', 'authn_core', 'authn_file', 'authz_core', 'authz_user', 'auth_basic', 'auth_digest', 'proxy', 'proxy_http', 'proxy_connect'].map(mod),
            'LogFormat "%h %u \\"%r\\" %>s %b" proxylog',
            `CustomLog ${accessLog} proxylog`,
            'ProxyRequests On',
            'ProxyVia Off',
            `AllowCONNECT ${opts.connectPorts.join(' ')}`,
            '<Proxy "*">',
            `  AuthType ${opts.scheme === 'basic' ? 'Basic' : 'Digest'}`,
            `  AuthName "${APACHE_REALM}"`,
            `  ${opts.scheme === 'basic' ? 'AuthBasicProvider' : 'AuthDigestProvider'} file`,
            `  AuthUserFile ${userFile}`,
            '  Require valid-user',
            '</Proxy>',
            '',
          ].join('\n'),
        );
        // -X: one process, in the foreground (debug mode); no master/worker tree to orphan.
        return ['-X', '-d', dir, '-f', conf];
      },
    });
    let stopping: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${daemon.port}`,
      port: daemon.port,
      accessLog,
      errorLog,
      count407: async () => {
        await daemon.settled();
        const text = await readFile(accessLog, 'utf8').catch(() => '');
        return text.split('\n').filter((l) => /" 407 /.test(l)).length;
      },
      stop: () => (stopping ??= daemon.stop().then(() => removeDir(dir))),
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}
