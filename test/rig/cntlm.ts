import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { startDaemon } from './daemon.js';
import { run } from './procs.js';

/**
 * cntlm 0.92 (Debian's) as a local NTLM proxy: listens on 127.0.0.1 without authentication and
 * chains every request to `upstream` (the rig's NTLM squid), answering its NTLM challenges with the
 * configured account. That is how people behind an NTLM-only proxy run tools that cannot do NTLM,
 * so symsrv talks to it with no credentials at all.
 *
 * The password is stored as cntlm's documentation recommends: the `PassNTLMv2` hash that
 * `cntlm -H` prints (never the clear password in the config), with `Auth NTLMv2` (the rig's Samba
 * refuses NTLMv1, cntlm's default). Foreground (`-f`), config and nothing else in a temp dir.
 */
export interface Cntlm {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** cntlm's own output (`-f`: one line per request to stderr; no statuses). */
  output(): string;
  stop(): Promise<void>;
}

export async function startCntlm(opts: { upstream: { host: string; port: number }; user: string; domain: string; password: string }): Promise<Cntlm> {
  const dir = await makeTempDir('symsrv-cntlm-');
  try {
    // `cntlm -H` prints PassLM, PassNT and PassNTLMv2 lines; -p gives the password without a terminal.
    const { stdout } = await run('/usr/sbin/cntlm', ['-H', '-u', opts.user, '-d', opts.domain, '-p', opts.password]);
    const hash = /^PassNTLMv2\s+([0-9A-F]{32})/m.exec(stdout)?.[1];
    if (!hash) throw new Error(`cntlm -H printed no PassNTLMv2 hash: ${stdout}`);
    const conf = join(dir, 'cntlm.conf');
    const daemon = await startDaemon({
      name: 'cntlm',
      cmd: '/usr/sbin/cntlm',
      args: async (port) => {
        await writeFile(
          conf,
          [
            `Username ${opts.user}`,
            `Domain ${opts.domain}`,
            `PassNTLMv2 ${hash}`,
            'Auth NTLMv2',
            `Proxy ${opts.upstream.host}:${opts.upstream.port}`,
            `Listen 127.0.0.1:${port}`,
            '',
          ].join('\n'),
          { mode: 0o600 },
        );
        return ['-f', '-c', conf];
      },
    });
    let stopping: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${daemon.port}`,
      port: daemon.port,
      output: daemon.output,
      stop: () => (stopping ??= daemon.stop().then(() => removeDir(dir))),
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}
