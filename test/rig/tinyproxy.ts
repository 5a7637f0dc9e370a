import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isListening } from '../helpers/ports.js';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { launch, rigPort, stopAll, tail, waitUntil } from './procs.js';

/**
 * tinyproxy 1.11 (Debian's) with `BasicAuth`, on 127.0.0.1 and a random free port, config and log
 * in its own temp dir, in the foreground (`-d`), never the system service. What matters to
 * clients: no Proxy-Authorization gets 407 + `Proxy-Authenticate: Basic realm="Tinyproxy"`; a
 * Proxy-Authorization it cannot check (a wrong password, or any scheme but Basic: an NTLM Type 1,
 * a Kerberos token) gets **401** + `WWW-Authenticate`, also on CONNECT; it closes the connection
 * after each request (HTTP/1.0).
 */
export interface Tinyproxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** tinyproxy's own log (LogLevel Info: connections and request lines, no statuses). */
  logFile: string;
  stop(): Promise<void>;
}

export async function startTinyproxy(opts: { user: string; password: string; connectPorts: number[] }): Promise<Tinyproxy> {
  const dir = await makeTempDir('symsrv-tinyproxy-');
  const logFile = join(dir, 'tinyproxy.log');
  const conf = join(dir, 'tinyproxy.conf');
  let failure = '';
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await rigPort();
      // BasicAuth takes user and password as bare words: callers use [A-Za-z0-9-] (and `\`).
      const lines = [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', `LogFile "${logFile}"`, 'LogLevel Info', 'MaxClients 64'];
      lines.push(`BasicAuth ${opts.user} ${opts.password}`, 'DisableViaHeader Yes');
      // Without ConnectPort lines tinyproxy allows CONNECT to any port; with them, only those.
      for (const p of opts.connectPorts) lines.push(`ConnectPort ${p}`);
      await writeFile(conf, lines.join('\n') + '\n');
      const p = launch('/usr/bin/tinyproxy', ['-d', '-c', conf], process.env);
      if (await waitUntil(() => isListening(port), 5000, p.exited)) {
        let stopping: Promise<void> | undefined;
        const stop = (): Promise<void> =>
          (stopping ??= stopAll([{ name: 'tinyproxy', pidFile: '/nonexistent', child: p.child, mark: '\0' }], 3000).then(() => removeDir(dir)));
        return { url: `http://127.0.0.1:${port}`, port, logFile, stop };
      }
      p.child.kill('SIGKILL');
      failure = `${p.spawnError()?.message ?? ''}\n${p.output()}\n${await tail(logFile)}`.trim();
      if (!/in use|Cannot bind|could not bind/i.test(failure)) break;
    }
    throw new Error(`tinyproxy did not start: ${failure || 'no LISTEN within 5 s and nothing logged'}`);
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}
