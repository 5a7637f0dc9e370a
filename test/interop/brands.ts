import { startCountingRelay } from '../helpers/counting-relay.js';
import { startApacheProxy } from '../rig/apache.js';
import { startCntlm } from '../rig/cntlm.js';
import { startMitmproxy } from '../rig/mitmproxy.js';
import type { Rig } from '../rig/rig.js';
import { startTinyproxy } from '../rig/tinyproxy.js';
import { DANTE_PASSWORD, startDante, startMicrosocks, type SocksServer } from '../rig/socks.js';

/**
 * The proxy brands of the interop matrix (docs/interop.md), one row each: how to start the brand
 * in front of the rig's origins, how symsrv and curl are given (good, wrong or no) credentials for
 * it, and how its challenges are counted. A new brand (a SOCKS5 server, say) is one more entry.
 */

export type Kind = 'good' | 'bad' | 'none';

/** How one client run is set up for one kind of credentials. */
export interface ClientSetup {
  /** The proxy URL both clients get (`--proxy` for symsrv and curl). */
  proxy: string;
  /** Extra symsrv arguments (credentials: `--proxy-user`) and environment (SYMSRV_PROXY_PASSWORD). */
  symsrvArgs: string[];
  symsrvEnv: Record<string, string>;
  /** curl's credential options for the brand's own scheme (`--proxy-basic -U user:pw`). */
  curlArgs: string[];
}

export interface RunningBrand {
  /** Undefined where the kind makes no sense for the brand (cntlm: symsrv never gives credentials). */
  client(kind: Kind): ClientSetup | undefined;
  /** curl letting the proxy choose (`--proxy-anyauth`), good credentials: the equivalent of symsrv's default. */
  curlAnyauth?: string[];
  /** The CA a client trusts for the HTTPS origin (the rig's, or the CA of a TLS-intercepting proxy). */
  ca: string;
  /** Challenges so far (absolute: take differences), counted where `countedAt` says. */
  count(): Promise<number>;
  /** Requests that got no answer before their connection closed, where a counting relay sits in front (absolute). */
  unanswered?(): number;
  stop(): Promise<void>;
}

export interface Brand {
  id: string;
  title: string;
  /** The scheme(s) as the matrix names them. */
  auth: string;
  /** What `count()` counts, for the matrix's notes. */
  countedAt: string;
  /** What the brand does to HTTPS (CONNECT tunnel, interception), for the notes. */
  note: string;
  /** The credential cases that apply (default all three; cntlm: symsrv never gives any, so no `none`). */
  kinds?: Kind[];
  /** A SOCKS5 server: refusal is the SOCKS handshake's (curl exit 97), not an HTTP 401/407. */
  socks?: boolean;
  /** Passwords the brand uses besides the rig's, for the credential scan. */
  secrets?: string[];
  start(rig: Rig<'ntlm'>): Promise<RunningBrand>;
}

const BAD = (pw: string): string => `wrong-${pw}`;

/**
 * A SOCKS5 server as a matrix row: socks5h:// (names resolved by the proxy), RFC 1929 credentials
 * given as for HTTP proxies (`--proxy-user` + SYMSRV_PROXY_PASSWORD; curl `-U`). SOCKS5 has no
 * challenge: the server picks the username method in its greeting answer, so the count is 0 by
 * design (a refused login is the handshake's failure).
 */
function socksBrand(id: string, title: string, note: string, start: (rig: Rig<'ntlm'>) => Promise<SocksServer>, secrets: string[]): Brand {
  return {
    id,
    title,
    auth: 'SOCKS5 username/password (RFC 1929)',
    countedAt: 'nothing to count: SOCKS5 has no challenge (the method is chosen in the greeting)',
    note,
    socks: true,
    secrets,
    async start(rig) {
      const server = await start(rig);
      const proxy = server.url.replace(/^socks5:/, 'socks5h:');
      return {
        client: (kind): ClientSetup => {
          if (kind === 'none') return { proxy, symsrvArgs: [], symsrvEnv: {}, curlArgs: [] };
          const pw = kind === 'good' ? server.password : BAD(server.password);
          return { proxy, symsrvArgs: ['--proxy-user', server.user], symsrvEnv: { SYMSRV_PROXY_PASSWORD: pw }, curlArgs: ['-U', `${server.user}:${pw}`] };
        },
        ca: rig.ca,
        count: async () => 0,
        stop: server.stop,
      };
    },
  };
}

/** Basic (and Digest) brands: `--proxy-user` + SYMSRV_PROXY_PASSWORD for symsrv, `-U` for curl. */
function passwordClient(proxy: string, rig: Rig<'ntlm'>, curlScheme: string): RunningBrand['client'] {
  return (kind): ClientSetup => {
    if (kind === 'none') return { proxy, symsrvArgs: [], symsrvEnv: {}, curlArgs: [] };
    const pw = kind === 'good' ? rig.password : BAD(rig.password);
    return { proxy, symsrvArgs: ['--proxy-user', rig.user], symsrvEnv: { SYMSRV_PROXY_PASSWORD: pw }, curlArgs: [curlScheme, '-U', `${rig.user}:${pw}`] };
  };
}

export const BRANDS: Brand[] = [
  {
    id: 'tinyproxy',
    title: 'tinyproxy',
    auth: 'Basic',
    countedAt: 'a counting TCP relay in front of tinyproxy (its log has no status codes): 401 and 407 responses',
    note: 'answers a Proxy-Authorization it cannot check with 401 (also on CONNECT); closes the connection after each request',
    async start(rig) {
      const tp = await startTinyproxy({ user: rig.user, password: rig.password, connectPorts: [rig.httpsOrigin.port] });
      const relay = await startCountingRelay({ host: '127.0.0.1', port: tp.port }).catch(async (e) => {
        await tp.stop();
        throw e;
      });
      return {
        client: passwordClient(relay.url, rig, '--proxy-basic'),
        curlAnyauth: ['--proxy-anyauth', '-U', `${rig.user}:${rig.password}`],
        ca: rig.ca,
        count: async () => relay.count(401, 407),
        unanswered: relay.unanswered,
        stop: async () => {
          await relay.stop();
          await tp.stop();
        },
      };
    },
  },
  ...(['basic', 'digest'] as const).map(
    (scheme): Brand => ({
      id: `apache-${scheme}`,
      title: 'Apache httpd 2.4 (mod_proxy)',
      auth: scheme === 'basic' ? 'Basic' : 'Digest',
      countedAt: "Apache's access log (`%>s` = 407)",
      note: 'CONNECT tunnel (mod_proxy_connect), authenticated before the tunnel',
      async start(rig) {
        const ap = await startApacheProxy({ scheme, user: rig.user, password: rig.password, connectPorts: [rig.httpsOrigin.port] });
        return {
          client: passwordClient(ap.url, rig, scheme === 'basic' ? '--proxy-basic' : '--proxy-digest'),
          curlAnyauth: ['--proxy-anyauth', '-U', `${rig.user}:${rig.password}`],
          ca: rig.ca,
          count: ap.count407,
          stop: ap.stop,
        };
      },
    }),
  ),
  {
    id: 'mitmproxy',
    title: 'mitmproxy (mitmdump --proxyauth)',
    auth: 'Basic',
    countedAt: "mitmdump's flow log (`<< 407` lines)",
    note:
      "intercepts TLS: clients trust mitmproxy's CA (`symsrv --cacert`, `curl --cacert`), as its documentation tells users. " +
      'mitmproxy 8.1 neither answers nor closes a connection after its 407 to a CONNECT: a client must send its credentials on a new connection (curl --proxy-anyauth waits there). ' +
      'Clients reach it through a TCP relay that checks every request got an answer',
    async start(rig) {
      const m = await startMitmproxy({ user: rig.user, password: rig.password, upstreamCa: rig.ca });
      // The relay only watches for requests left unanswered: mitmproxy 8 goes silent on a connection after its 407 to a CONNECT.
      const relay = await startCountingRelay({ host: '127.0.0.1', port: m.port }).catch(async (e) => {
        await m.stop();
        throw e;
      });
      return {
        client: passwordClient(relay.url, rig, '--proxy-basic'),
        curlAnyauth: ['--proxy-anyauth', '-U', `${rig.user}:${rig.password}`],
        ca: m.ca,
        count: m.count407,
        unanswered: relay.unanswered,
        stop: async () => {
          await relay.stop();
          await m.stop();
        },
      };
    },
  },
  {
    id: 'cntlm',
    title: 'cntlm in front of squid (NTLM)',
    auth: 'none to cntlm; NTLMv2 cntlm → squid',
    countedAt: "the NTLM squid's access log behind cntlm (cntlm's own NTLM handshakes; cntlm itself never challenges)",
    note: 'symsrv and curl give no credentials; "wrong password" is a cntlm configured with a wrong one',
    kinds: ['good', 'bad'],
    async start(rig) {
      const upstream = { host: '127.0.0.1', port: rig.proxies.ntlm.port };
      const good = await startCntlm({ upstream, user: rig.user, domain: rig.domain, password: rig.password });
      const bad = await startCntlm({ upstream, user: rig.user, domain: rig.domain, password: BAD(rig.password) }).catch(async (e) => {
        await good.stop();
        throw e;
      });
      return {
        client: (kind) => (kind === 'none' ? undefined : { proxy: kind === 'good' ? good.url : bad.url, symsrvArgs: [], symsrvEnv: {}, curlArgs: [] }),
        ca: rig.ca,
        count: () => rig.count407('ntlm'),
        stop: async () => {
          await Promise.all([good.stop(), bad.stop()]);
        },
      };
    },
  },
  socksBrand('dante', 'dante-server 1.4 (danted)', "checks the password against the system's password database (a Unix user)", () => startDante(), [DANTE_PASSWORD]),
  socksBrand('microsocks', 'microsocks 1.0', 'its -u/-P user; one thread per connection', (rig) => startMicrosocks({ user: rig.user, password: rig.password }), []),
];
