import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, isListening } from './ports.js';
import { makeTempDir, removeDir } from './tempdir.js';

export interface NginxServer {
  /** http(s)://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The server's own temp dir (config, logs, temp files); removed by stop(). */
  dir: string;
  /**
   * One line per request, written when the response is done:
   * `STATUS "REQUEST LINE" ua="..." auth="..." pauth="..." conn=N reqs=N bytes=N range="..."`
   * (`auth` is Authorization, `pauth` Proxy-Authorization: tests check no credential reaches the origin;
   * `conn` is nginx's connection serial number and `reqs` the request's number on it, for keep-alive checks).
   */
  accessLog: string;
  stop(): Promise<void>;
}

const NGINX = process.env.SYMSRV_NGINX ?? '/usr/sbin/nginx';

/**
 * The real Debian nginx serving `root` as a symbol store under /store/, plus the answers a
 * symbol client meets in the wild: redirects (Microsoft's server redirects to a CDN), 5xx, a
 * captive portal's 200 HTML page, 404. Faults nginx cannot make are in faults.ts.
 *
 * No nginx may outlive the test run: it runs as ONE process (`master_process off`, so there is no
 * worker to orphan), in the foreground as our child, started through `setpriv --pdeathsig KILL`
 * so the kernel kills it if this process dies without calling stop() (even by SIGKILL), and an
 * exit hook kills any still running when this process exits normally.
 */
export async function startNginx(opts: { root: string; tls?: { cert: string; key: string } }): Promise<NginxServer> {
  const dir = await makeTempDir('symsrv-nginx-');
  try {
    await mkdir(join(dir, 'logs'));
    for (let attempt = 0; attempt < 5; attempt++) {
      // freePort() releases the port before nginx binds it, so another process can take it in
      // between: nginx then fails with EADDRINUSE and we try again with a new port.
      const port = await freePort();
      await writeFile(join(dir, 'nginx.conf'), config(dir, opts.root, port, opts.tls));
      await writeFile(join(dir, 'logs/error.log'), '');
      const started = await launch(dir, port, opts.tls ? 'https' : 'http');
      if ('server' in started) return started.server;
      if (!/Address already in use/.test(started.failure)) throw new Error(`nginx did not start: ${started.failure}`);
    }
    throw new Error('nginx did not start: no free port after 5 tries');
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

async function launch(dir: string, port: number, scheme: 'http' | 'https'): Promise<{ server: NginxServer } | { failure: string }> {
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs/error.log'), '-g', 'daemon off;'];
  const [cmd, argv] = SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', NGINX, ...args]] : [NGINX, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.set(child, dir);
  // A test that forgets stop() must not hang the run: nginx does not hold the event loop open
  // (the exit hook below kills it).
  child.unref();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  (child.stderr as unknown as { unref(): void }).unref();
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let spawnError: NodeJS.ErrnoException | undefined;
  const failed = new Promise<void>((resolve) =>
    child.once('error', (e) => {
      spawnError = e;
      resolve();
    }),
  );
  const alive = (): boolean => spawnError === undefined && child.exitCode === null && child.signalCode === null;

  for (let i = 0; i < 500 && alive(); i++) {
    if (await isListening(port)) break;
    await sleep(10);
  }
  if (alive() && (await isListening(port))) {
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM'); // fast shutdown
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        running.delete(child);
        await removeDir(dir);
      })());
    return { server: { url: `${scheme}://127.0.0.1:${port}`, port, dir, accessLog: join(dir, 'logs/access.log'), stop } };
  }
  running.delete(child); // the caller removes dir, or retries in it
  if (spawnError) return { failure: `cannot run ${cmd} (${spawnError.code}): apt-get install nginx-light` };
  child.kill('SIGKILL');
  await Promise.race([exited, failed]);
  const log = await readFile(join(dir, 'logs/error.log'), 'utf8').catch(() => '');
  return { failure: `${stderr}${log}`.trim() || `${NGINX} exited with ${child.exitCode ?? child.signalCode} and said nothing` };
}

/** Whether util-linux's setpriv can set a parent-death signal here (it can on Debian 12). */
const SETPRIV = spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;

/** nginx processes started and not yet stopped, with their dirs: removed when this process exits. */
const running = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, dir] of running) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

function config(dir: string, root: string, port: number, tls?: { cert: string; key: string }): string {
  const rootSlash = root.endsWith('/') ? root : root + '/';
  return `
# One process, no workers: nothing is left behind if it is killed (see startNginx).
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
user root;
events { worker_connections 1024; }
http {
  access_log off;
  log_format symsrv '$status "$request" ua="$http_user_agent" auth="$http_authorization" pauth="$http_proxy_authorization" conn=$connection reqs=$connection_requests bytes=$body_bytes_sent range="$http_range"';
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  types { }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush off;
  tcp_nodelay on;
  keepalive_requests 10000;
  keepalive_timeout 60s;
  server_tokens off;
  server {
    listen 127.0.0.1:${port}${tls ? ' ssl' : ''};
    server_name localhost;
    ${tls ? `ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};` : ''}
    access_log ${dir}/logs/access.log symsrv;
    location / { return 404; }
    location /store/ { alias ${rootSlash}; autoindex off; }
    # Microsoft's server answers with redirects to a CDN: one hop, two hops, and a loop.
    location /redirect/ { rewrite ^/redirect/(.*)$ /store/$1 redirect; }
    location /redirect2/ { rewrite ^/redirect2/(.*)$ /redirect/$1 permanent; }
    location /redirect-loop/ { rewrite ^(.*)$ $1 redirect; }
    # To another server, as msdl.microsoft.com sends to its CDN: /cross/<scheme>/<host:port>/<path>
    # answers 302 to <scheme>://<host:port>/store/<path>.
    location ~ ^/cross/(https?)/([^/]+)/(.*)$ { return 302 $1://$2/store/$3; }
    location /error500/ { return 500; }
    location /error503/ { return 503; }
    location /gone/ { return 404; }
    # A store that refuses us (a missing or wrong token): every path 403.
    location /forbidden/ { return 403; }
    # A captive portal: 200 and an HTML page for every path, never the file asked for.
    location /portal/ {
      default_type text/html;
      return 200 '<!DOCTYPE html><html><body>Please log in to the network</body></html>';
    }
  }
}
`;
}
