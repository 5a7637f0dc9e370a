import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { escapeControls } from '../escape.js';
import type { CredentialPrompt, CredentialRequest } from './types.js';

/**
 * The terminal's credential prompt: a line naming the proxy and its schemes, `User name:` and
 * `Password:` with the typed characters hidden.
 *
 * Written on Node's readline rather than a prompt library: @inquirer/password 5 needs Node 22
 * (symsrv supports 20), and hiding input is one override of readline's echo. Its own readline
 * interface, without history, so an answer never reaches the shell's history file.
 * Ctrl-C, Ctrl-D or an empty user name is Cancel (null).
 */
export function terminalPrompt(io: { input?: Readable; output?: Writable } = {}): CredentialPrompt {
  const input = io.input ?? process.stdin;
  const output = io.output ?? process.stderr;
  return async (req: CredentialRequest) => {
    // The realm and schemes come from the proxy: a realm could otherwise redraw the screen
    // around the password prompt (escape.ts).
    const offers = escapeControls(req.schemes.join(', '));
    const realm = req.realm ? `, realm "${escapeControls(req.realm)}"` : '';
    const proxy = escapeControls(req.proxy);
    if (req.refused) output.write(`The proxy ${proxy} refused those credentials. Try again (Ctrl-C to cancel).\n`);
    else output.write(`The proxy ${proxy} requires authentication (${offers}${realm}). Ctrl-C to cancel.\n`);
    const user = await ask(input, output, 'User name: ', false, req.user);
    if (!user) return null;
    const password = await ask(input, output, 'Password: ', true);
    if (password === null) return null;
    return { user, password };
  };
}

/** One line from the terminal; null on Ctrl-C or end of input. */
function ask(input: Readable, output: Writable, question: string, hidden: boolean, preset?: string): Promise<string | null> {
  return new Promise((resolve) => {
    const rl: Interface = createInterface({ input, output, terminal: Boolean((output as { isTTY?: boolean }).isTTY), historySize: 0 });
    let done = false;
    const finish = (value: string | null): void => {
      if (done) return;
      done = true;
      rl.close();
      resolve(value);
    };
    if (hidden) {
      // Echo nothing of what is typed (readline writes the line through _writeToOutput).
      const r = rl as unknown as { _writeToOutput: (s: string) => void; output: Writable };
      r._writeToOutput = (s: string) => {
        if (s === question || s.endsWith('\n') || s.endsWith('\r\n')) r.output.write(s === question ? s : '\n');
      };
    }
    rl.on('SIGINT', () => {
      output.write('\n');
      finish(null);
    });
    rl.on('close', () => finish(null));
    rl.question(question, (answer) => finish(answer.trim() === '' && !hidden ? '' : answer));
    if (preset && !hidden) rl.write(preset);
  });
}
