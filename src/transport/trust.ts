import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

/** The part of Node's native SecureContext used here (not in Node's types: see trustedContext). */
interface NativeContext {
  addCACert(pem: string): void;
}

/**
 * The TLS trust for `--cacert` / the `ca` option: the system's CAs (Node's bundled roots and
 * NODE_EXTRA_CA_CERTS) AND the extra ones, as one SecureContext built once per transport. Node's
 * `ca` option alone would REPLACE the defaults; passing it per request also made Node parse every
 * certificate for every connection (0.4 s of CPU for 200 HTTPS files, measured).
 *
 * How it is built: a default context (which shares Node's root store, parsed once per process),
 * then the extra CAs added to it with the native context's `addCACert`, the call Node's own `ca`
 * option makes. On its first call Node gives the context a store of its own, copied from the
 * already parsed roots, so adding costs ~1 ms; the public route, `ca: [...rootCertificates,
 * ...extra]`, parses ~140 PEM certificates again, ~33 ms a run (measured). NODE_EXTRA_CA_CERTS
 * lives only in Node's shared store, so its file is added again here. `addCACert` is internal
 * (stable since Node 12, still there in 24): where it is missing, the public route is taken.
 */
export function trustedContext(extra: readonly string[] | undefined): SecureContext | undefined {
  if (!extra || extra.length === 0) return undefined;
  const envFile = process.env.NODE_EXTRA_CA_CERTS;
  let envCerts: string | undefined;
  if (envFile) {
    try {
      envCerts = readFileSync(envFile, 'utf8');
    } catch {
      // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start-up.
    }
  }
  const added = [...(envCerts ? [envCerts] : []), ...extra];
  const context = createSecureContext();
  const native = (context as { context?: Partial<NativeContext> }).context;
  if (typeof native?.addCACert === 'function') {
    for (const pem of added) native.addCACert(pem);
    return context;
  }
  return createSecureContext({ ca: [...rootCertificates, ...added] });
}
