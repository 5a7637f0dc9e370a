/**
 * NTLM proxy authentication: the handshake of one connection. The messages and their cryptography
 * are `ntlm-messages.ts` ([MS-NLMP], NTLMv2 with a MIC); this module drives them over HTTP.
 *
 * The flow on one connection (curl's, and what squid + Samba expect):
 *
 *     request + Proxy-Authorization: NTLM <NEGOTIATE_MESSAGE>      (pre-emptive Type 1)
 *     407    + Proxy-Authenticate:  NTLM <CHALLENGE_MESSAGE>        (Type 2)
 *     request + Proxy-Authorization: NTLM <AUTHENTICATE_MESSAGE>   (Type 3)
 *     200 — and squid then treats the connection as authenticated: later requests on it carry no header.
 *
 * The same messages also travel under the `Negotiate` scheme name (`{ scheme: 'negotiate' }`):
 * NTLM inside Negotiate, what Windows' SSPI Negotiate package sends when it has no Kerberos ticket,
 * as raw NTLMSSP tokens (no SPNEGO wrapping). negotiate.ts uses it; why raw is the form that
 * works is in its header.
 *
 * A further 407 after the Type 3 is a refusal: the session answers nothing more (no loop, and no
 * string of failed logins that could lock a directory account).
 *
 * What the connection layer must guarantee: the Type 1, the 407 with the Type 2 and the Type 3 use
 * the same socket (the Type 2's server challenge is bound to it), with no other request in between;
 * one session per socket; a 407 body is read to its end so the socket stays usable.
 *
 * Security: the password goes only into authenticateMessage (which keeps neither it nor the NT
 * hash); the session never returns, logs or puts it in lastError. The Type 3 carries proofs of
 * the password, and goes to the proxy only.
 */

import { authenticateMessage, negotiateMessage, parseChallengeMessage } from './ntlm-messages.js';
import { typedUser, type AuthRequest, type AuthSession, type Challenge, type Credentials } from './types.js';
import { messageOf } from '../../errors.js';

/** An NTLM session for ONE connection to the proxy (see the header comment for the flow). */
export interface NtlmSession extends AuthSession {
  readonly scheme: 'ntlm' | 'negotiate';
  /** Why the session gave up, for the caller's final error message (never holds a credential). */
  readonly lastError: string | undefined;
  /** The proxy answered our Type 3 with a refusal: the credentials were checked and are wrong. */
  readonly refused: boolean;
}

export interface NtlmSessionOptions {
  /** Sent in the Type 3 (NTLMv2 does not use it; it lands in the server's logs). Default: none. */
  workstation?: string;
  /**
   * The HTTP scheme the messages travel under: `ntlm` (default, `NTLM <message>`), or `negotiate`
   * for NTLM inside Negotiate (`Negotiate <message>`, answering `Negotiate <Type 2>` challenges).
   */
  scheme?: 'ntlm' | 'negotiate';
}

export function createNtlmSession(creds: Credentials, options: NtlmSessionOptions = {}): NtlmSession {
  const scheme = options.scheme ?? 'ntlm';
  const prefix = scheme === 'ntlm' ? 'NTLM' : 'Negotiate';
  let state: 'start' | 'sent-type1' | 'sent-type3' | 'done' = 'start';
  let type1: Buffer | undefined;
  let lastError: string | undefined;
  let refused = false;
  const who = typedUser(creds);

  const sendType1 = (): string => {
    type1 = negotiateMessage();
    state = 'sent-type1';
    // To the proxy only: the connection layer puts this in Proxy-Authorization on this session's connection.
    return `${prefix} ${type1.toString('base64')}`;
  };

  const end = (why: string): undefined => {
    refused = state === 'sent-type3';
    lastError = refused ? `the proxy refused the NTLM credentials of ${who}` : why;
    state = 'done';
    return undefined;
  };

  return {
    scheme,
    get lastError() {
      return lastError;
    },
    get refused() {
      return refused;
    },
    async respond(_request: AuthRequest, challenge: Challenge | undefined): Promise<string | undefined> {
      if (challenge === undefined) {
        // Pre-emptive Type 1 on a new connection, as curl does: saves the 407 that would only say "NTLM".
        // Once the Type 3 has been sent the connection is authenticated and needs no header.
        return state === 'start' ? sendType1() : undefined;
      }
      if (challenge.scheme !== scheme || state === 'done') return undefined;
      if (challenge.token === undefined || challenge.token === '') {
        if (state === 'start') return sendType1();
        // A bare challenge after our Type 3: refused; after our Type 1: the proxy ignored it (a
        // Negotiate acceptor without NTLM, such as squid's negotiate_kerberos_auth, does that).
        return end(
          scheme === 'ntlm'
            ? 'the proxy answered the NTLM NEGOTIATE message (Type 1) without a challenge'
            : "the proxy's Negotiate does not take NTLM (it answered the NTLM NEGOTIATE message without a challenge)",
        );
      }
      if (state !== 'sent-type1' || type1 === undefined) {
        // A Type 2 after our Type 3 (a refusal that restarts the handshake), or one we never asked for.
        return end('the proxy sent an NTLM challenge on a connection where no NTLM handshake was started');
      }
      let type3: Buffer;
      try {
        const parsed = parseChallengeMessage(Buffer.from(challenge.token, 'base64'));
        type3 = authenticateMessage({
          challenge: parsed,
          user: creds.user,
          password: creds.password,
          domain: creds.domain ?? '',
          ...(options.workstation ? { workstation: options.workstation } : {}),
          negotiateMessage: type1,
        });
      } catch (err) {
        // A malformed Type 2, or names the proxy's choices cannot carry: a SymsrvError that says
        // which (never the password), and the end of this session.
        state = 'done';
        lastError = messageOf(err);
        throw err;
      }
      state = 'sent-type3';
      // To the proxy only, on the connection that received the Type 2 (its challenge is bound to it).
      return `${prefix} ${type3.toString('base64')}`;
    },
  };
}
