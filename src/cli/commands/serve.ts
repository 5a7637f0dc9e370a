import { readFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { SymbolClient } from '../../client.js';
import { SymsrvError } from '../../errors.js';
import { readSecretFile, tokenAuth, usersAuth, type ClientAuth } from '../../serve/auth.js';
import { createSymbolServer } from '../../serve/server.js';
import type { TransportOptions } from '../../transport/options.js';
import { warn } from '../output.js';
import { proxyOptions, readCa } from './fetch.js';

export interface ServeCliOptions {
  sympath?: string;
  listen: string;
  negativeTtl: number;
  tokenFile?: string;
  users?: string;
  cert?: string;
  key?: string;
  credentials?: string;
  accessLog?: string;
  cacert?: string;
  connectTimeout?: number;
  timeout?: number;
  retries?: number;
  proxy?: string | false;
  pac?: string;
  proxyUser?: string;
  proxyAuth?: string;
}

/**
 * `symsrv serve`: serves the symbol path over HTTP until SIGTERM or SIGINT, which drain the
 * requests in flight. Upstream credentials come from the environment (SYMSRV_PROXY_USER /
 * SYMSRV_PROXY_PASSWORD) or `--credentials FILE` (mode 0600: user on the first line, password
 * on the second), never from the command line; prompts are off (an expired password is a log
 * line and 502s, not a hang).
 */
export async function run(opts: ServeCliOptions): Promise<void> {
  const { host, port } = parseListen(opts.listen);
  if ((opts.cert === undefined) !== (opts.key === undefined)) throw new SymsrvError('E_USAGE', '--cert and --key go together');
  if (opts.tokenFile && opts.users) throw new SymsrvError('E_USAGE', '--token-file and --users exclude each other');
  let auth: ClientAuth | undefined;
  if (opts.tokenFile) auth = await tokenAuth(opts.tokenFile);
  if (opts.users) auth = await usersAuth(opts.users);
  const tls = opts.cert && opts.key ? { cert: await readFile(opts.cert), key: await readSecretFile(opts.key, 'TLS key') } : undefined;

  const transport: TransportOptions = {};
  if (opts.cacert) transport.ca = [await readCa(opts.cacert)];
  if (opts.connectTimeout !== undefined) transport.connectTimeout = opts.connectTimeout * 1000;
  if (opts.timeout !== undefined) transport.bodyTimeout = transport.headersTimeout = opts.timeout * 1000;
  if (opts.retries !== undefined) transport.retries = opts.retries;
  transport.proxies = proxyOptions(opts);
  let proxyCredentials: { user: string; password: string } | undefined;
  if (opts.credentials) {
    const [user, password] = (await readSecretFile(opts.credentials, 'credentials file')).split(/\r?\n/);
    if (!user || password === undefined) throw new SymsrvError('E_USAGE', `${opts.credentials}: the user on the first line, the password on the second`);
    proxyCredentials = { user, password };
  }
  const client = new SymbolClient({
    ...(opts.sympath !== undefined ? { symbolPath: opts.sympath } : {}),
    transport,
    noPrompts: true,
    ...(proxyCredentials ? { proxyCredentials } : {}),
    onMessage: (text) => warn(text),
  });

  const logStream = opts.accessLog && opts.accessLog !== '-' ? createWriteStream(opts.accessLog, { flags: 'a' }) : undefined;
  const log = (line: string): void => {
    if (logStream) logStream.write(line + '\n');
    else process.stderr.write(line + '\n');
  };
  const { server, drain } = createSymbolServer({ source: client, negativeTtl: opts.negativeTtl, log, ...(auth ? { auth } : {}), ...(tls ? { tls } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new SymsrvError('E_USAGE', `cannot listen on ${opts.listen}: ${err.code ?? err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as { address: string; port: number };
  const shown = address.address.includes(':') ? `[${address.address}]` : address.address;
  warn(`serving ${client.symbolPath.text} on ${tls ? 'https' : 'http'}://${shown}:${address.port}`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      warn('draining requests in flight, then stopping');
      void drain().then(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await client.close();
  await new Promise<void>((resolve) => (logStream ? logStream.end(resolve) : resolve()));
}

/** `HOST:PORT`, `[v6]:PORT` or `PORT` (127.0.0.1: serving beyond the machine is a choice to make, not a default). */
function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new SymsrvError('E_USAGE', `--listen takes HOST:PORT or PORT, not "${text}"`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}
