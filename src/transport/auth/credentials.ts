import { SymsrvError } from '../../errors.js';
import { describeProxy } from '../select/select.js';
import { parseUserSpec } from './challenge.js';
import type { Credentials } from './types.js';

/** Where proxy credentials may come from, highest priority first (see `resolveCredentials`). */
export interface CredentialOptions {
  /** API option: credentials for the proxy. */
  credentials?: { user: string; password: string };
  /** CLI `--proxy-user USER` (the password from SYMSRV_PROXY_PASSWORD, never from the command line). */
  user?: string;
  env?: NodeJS.ProcessEnv;
}

/** Where credentials came from, for messages ("from --proxy-user"); never the secret itself. */
export interface ResolvedCredentials extends Credentials {
  source: 'option' | '--proxy-user' | 'SYMSRV_PROXY_USER' | 'proxy URL';
  /** The user as typed (`DOMAIN\user`), for "proxy authentication failed for USER at PROXY". */
  typed: string;
}

/**
 * Credentials for `proxy`, in the order the proxy issue sets: the API option, `--proxy-user`
 * with SYMSRV_PROXY_PASSWORD, SYMSRV_PROXY_USER/SYMSRV_PROXY_PASSWORD, then userinfo in the proxy
 * URL. Undefined when none is given (a prompt may then ask: see the prompts issue).
 */
export function resolveCredentials(proxy: URL, o: CredentialOptions): ResolvedCredentials | undefined {
  const env = o.env ?? process.env;
  const make = (typed: string, password: string, source: ResolvedCredentials['source']): ResolvedCredentials => {
    const spec = parseUserSpec(typed);
    return { ...spec, password, source, typed };
  };
  if (o.credentials) return make(o.credentials.user, o.credentials.password, 'option');
  if (o.user) return make(o.user, env.SYMSRV_PROXY_PASSWORD ?? '', '--proxy-user');
  if (env.SYMSRV_PROXY_USER) return make(env.SYMSRV_PROXY_USER, env.SYMSRV_PROXY_PASSWORD ?? '', 'SYMSRV_PROXY_USER');
  if (proxy.username) return make(decode(proxy, proxy.username), decode(proxy, proxy.password), 'proxy URL');
  return undefined;
}

/** Percent-decoding of a proxy URL's userinfo; a bad escape is E_USAGE, never a URIError. */
function decode(proxy: URL, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    const where = describeProxy(proxy);
    throw new SymsrvError('E_USAGE', `the proxy ${where}: its user name or password has a bad %-escape (write % itself as %25)`, { subject: where });
  }
}
