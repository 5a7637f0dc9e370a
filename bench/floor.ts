/**
 * The Node floor: the least a Node.js program can do to download a list of URLs, 8 at a time,
 * into files: `node:http` with a keep-alive Agent, each body piped to a file, nothing else (no
 * symbol store, no validation, no temp file, no retries). The benchmarks run it beside symsrv and
 * curl so the table shows how much of symsrv's time is Node's own (start-up, http client,
 * streams) and how much is symsrv's.
 *
 *   node dist/bench/floor.js run OUTDIR URL...   (files OUTDIR/0, OUTDIR/1, ...)
 *
 * With FLOOR_PROXY=http://host:port the requests go to that proxy in absolute-URI form, with
 * `Proxy-Authorization: Basic` from FLOOR_PROXY_USER / FLOOR_PROXY_PASSWORD when set (plain
 * HTTP origins only: a CONNECT tunnel is more than a floor). HTTPS origins are fetched directly,
 * trusting FLOOR_CA besides the system's CAs.
 */
import { createWriteStream } from 'node:fs';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

async function main(out: string, urls: string[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  // HTTPS origins (direct only), trusting FLOOR_CA (a PEM file) as well as the system's CAs.
  const ca = process.env.FLOOR_CA ? readFileSync(process.env.FLOOR_CA, 'utf8') : undefined;
  // One SecureContext for all connections (a `ca` option would parse every root certificate per connection).
  const { createSecureContext, rootCertificates } = await import('node:tls');
  const tlsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(ca ? { secureContext: createSecureContext({ ca: [...rootCertificates, ca] }) } : {}) });
  const proxy = process.env.FLOOR_PROXY ? new URL(process.env.FLOOR_PROXY) : undefined;
  const auth =
    process.env.FLOOR_PROXY_USER !== undefined
      ? `Basic ${Buffer.from(`${process.env.FLOOR_PROXY_USER}:${process.env.FLOOR_PROXY_PASSWORD ?? ''}`).toString('base64')}`
      : undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < urls.length) {
      const i = next++;
      const url = new URL(urls[i]!);
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const options = proxy
          ? { host: proxy.hostname, port: Number(proxy.port), path: url.href, headers: { host: url.host, ...(auth ? { 'proxy-authorization': auth } : {}) }, agent }
          : { host: url.hostname, port: Number(url.port), path: url.pathname, agent };
        if (!proxy && url.protocol === 'https:') httpsRequest({ ...options, agent: tlsAgent }, resolve).on('error', reject).end();
        else request(options, resolve).on('error', reject).end();
      });
      if (res.statusCode !== 200) throw new Error(`${url.href}: ${res.statusCode}`);
      await pipeline(res, createWriteStream(join(out, String(i)), { highWaterMark: 8 * 1024 * 1024 }));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  agent.destroy();
  tlsAgent.destroy();
}

if (process.argv[2] === 'run') {
  main(process.argv[3]!, process.argv.slice(4)).catch((err: unknown) => {
    process.stderr.write(`floor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
