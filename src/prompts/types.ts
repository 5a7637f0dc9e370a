/**
 * Asking a person for proxy credentials. The library never owns a UI: the CLI plugs in a terminal
 * prompt, a GUI or an IDE its own dialog, tests a scripted answer (as vscode-proxy-agent takes
 * credentials through injected callbacks).
 */
export interface CredentialRequest {
  /** The proxy, without credentials (`http://proxy:3128`). */
  proxy: string;
  /** The schemes the proxy offers, as it names them (`Negotiate`, `NTLM`, ...). */
  schemes: string[];
  /** The realm of a Basic or Digest challenge, when there is one. */
  realm?: string;
  /** The previous answer was refused by the proxy: say so, and ask again. */
  refused: boolean;
  /** The user of the refused answer, to offer it again. */
  user?: string;
}

/**
 * Returns credentials, or null when the person cancels (Ctrl-C, Ctrl-D, an empty user name):
 * then Internet symbol stores are disabled for the session, as SymSrv does on Cancel.
 */
export type CredentialPrompt = (request: CredentialRequest) => Promise<{ user: string; password: string } | null>;
