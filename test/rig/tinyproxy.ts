import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { startDaemon } from './daemon.js';

/**
 * tinyproxy 1.11 (Debian's) with `BasicAuth`, on 127.0.0.1 and a random free port, config and log
 * in its own temp dir, in the foreground (`-d`). Its behaviour that matters to clients: no
 * Proxy-Authorization gets 407 + `Proxy-Authenticate: Basic realm="Tinyproxy"`; a
 * Proxy-Authorization it cannot check (a wrong password, or any scheme but Basic) gets
 * **401** + `WWW-Authenticate`, also on CONNECT; it closes the connection after each request.
 * Its log names requests but no status codes: count 401/407 with test/helpers/counting-relay.ts.
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
  try {
    const daemon = await startDaemon({
      name: 'tinyproxy',
      cmd: '/usr/bin/tinyproxy',
      log: logFile,
      args: async (port) => {
        // BasicAuth takes the password as a bare word: the rig's passwords are [A-Za-z0-9-].
        await writeFile(
          conf,
          [
            `Port ${port}`,
            'Listen 127.0.0.1',
            'Timeout 60',
            `LogFile "${logFile}"`,
            'LogLevel Info',
            `PidFile "${join(dir, 'tinyproxy.pid')}"`,
            'MaxClients 64',
            `BasicAuth ${opts.user} ${opts.password}`,
            // Without ConnectPort lines tinyproxy allows CONNECT to any port; with them, only those.
            ...opts.connectPorts.map((p) => `ConnectPort ${p}`),
            'DisableViaHeader Yes',
            '',
          ].join('\n'),
        );
        return ['-d', '-c', conf];
      },
    });
    let stopping: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${daemon.port}`,
      port: daemon.port,
      logFile,
      stop: () => (stopping ??= daemon.stop().then(() => removeDir(dir))),
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}
