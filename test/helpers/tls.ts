import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestCertificates {
  /** The test CA's certificate (PEM): what a client is told to trust. */
  ca: string;
  /** A server certificate for localhost and 127.0.0.1 signed by that CA, and its key (PEM files). */
  cert: string;
  key: string;
}

/**
 * Makes a P-256 test CA and a server certificate for DNS:localhost, DNS:proxy.symsrv.test and
 * IP:127.0.0.1 in `dir` with openssl (as /work/shared/notes/proxy-rig.md describes), valid 2 days.
 */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const ssl = (args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await ssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=symsrv test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await ssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,DNS:proxy.symsrv.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt',
    '-days', '2', '-extfile', 'server.ext']);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}
