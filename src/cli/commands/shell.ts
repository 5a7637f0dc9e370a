import { escapeOutput } from '../../escape.js';
import { createInterface, type Interface } from 'node:readline';
import { complete, executeCommand } from '../../shell/commands.js';
import { symbolPathLines } from '../../shell/format.js';
import { HISTORY_SIZE, HistoryWriter, historyFile, readHistory } from '../../shell/history.js';
import { loadTargets } from '../../shell/modules.js';
import { ShellSession } from '../../shell/session.js';
import { VERSION } from '../../version.js';
import { inCliWords, warn } from '../output.js';
import { proxyOptions } from './fetch.js';
import { terminalPrompt } from '../../prompts/terminal.js';

export interface ShellOptions {
  sympath?: string;
  proxy?: string | false;
  pac?: string;
  proxyUser?: string;
  proxyAuth?: string;
}

const PROMPT = 'symsrv> ';

/**
 * `symsrv shell [-y SYMPATH] [TARGET...]`: a WinDbg/cdb-style console over the modules of the
 * TARGETs. The commands are src/shell/commands.ts; this file is only the terminal around them.
 * Interactive (stdin and stdout are terminals): line editing, Up/Down history kept across
 * sessions, Tab completion. Otherwise: each line of stdin is a command, echoed after the prompt,
 * and the end of input quits. Exit code 0 either way; bad TARGETs or symbol path exit 2 before
 * the console starts.
 */
export async function run(targets: string[], opts: ShellOptions): Promise<void> {
  const { modules, skipped } = await loadTargets(targets);
  for (const s of skipped) warn(`skipped ${s.file}: ${s.reason}`);
  // Prompts start off, as in cdb; `!sym prompts` switches them on (and, after a Cancel, turns
  // Internet stores back on). The prompt reads the terminal alone: the console holds no
  // readline while a command runs, so answers never reach its history.
  const ask = terminalPrompt();
  const session = new ShellSession({
    ...(opts.sympath !== undefined ? { symbolPath: opts.sympath } : {}),
    transport: { proxies: proxyOptions(opts) },
    modules,
    clientOptions: (s) => ({ prompt: ask, noPrompts: !s.promptsOn }),
  });
  session.onPromptsChanged = (on) => void session.client.setOptions({ noPrompts: !on });
  try {
    await runConsole(session, process.stdin, process.stdout);
  } finally {
    await session.close();
  }
}

/** The read-run loop over `input`, writing to `output`. Returns at `q` or the end of input. */
export async function runConsole(session: ShellSession, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<void> {
  const print = (line: string): void => {
    output.write(escapeOutput(inCliWords(line)) + '\n'); // outside text (names, answers) in a terminal; option names as flags
  };
  const interactive = Boolean(input.isTTY && output.isTTY);
  const reader = interactive ? await TerminalReader.open(session, input, output) : new PipeReader(input);
  try {
    if (interactive) {
      const n = session.modules.length;
      print(`symsrv ${VERSION} shell: ${n} module${n === 1 ? '' : 's'}, symbols deferred (.reload looks them up). .help lists the commands, q quits.`);
      for (const line of symbolPathLines(session.symbolPath, session.symbolPathSource)) print(line);
    }
    for (;;) {
      const line = await reader.next();
      if (line === null) {
        if (interactive) output.write('\n'); // Ctrl+D leaves the cursor after the prompt
        return;
      }
      if (!interactive) print(`${PROMPT}${line}`);
      // Ctrl+C while a command runs: the terminal is back in cooked mode (no readline is
      // attached), so it arrives as SIGINT; it stops the lookups, not the console.
      const stop = new AbortController();
      const onSigint = (): void => {
        if (interactive) output.write('\n'); // after the ^C the terminal echoed
        stop.abort();
      };
      process.on('SIGINT', onSigint);
      let r: 'quit' | 'continue';
      try {
        r = await executeCommand(session, line, { write: print, signal: stop.signal });
      } finally {
        process.off('SIGINT', onSigint);
      }
      if (r === 'quit') return;
    }
  } finally {
    await reader.close();
  }
}

interface LineReader {
  /** The next command line; null at the end of input. */
  next(): Promise<string | null>;
  close(): Promise<void>;
}

/** Piped input: one readline over the whole stream, no prompt, no history. */
class PipeReader implements LineReader {
  private readonly rl: Interface;
  private readonly lines: AsyncIterator<string>;

  constructor(input: NodeJS.ReadableStream) {
    this.rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
    this.lines = this.rl[Symbol.asyncIterator]();
  }

  async next(): Promise<string | null> {
    const r = await this.lines.next();
    return r.done ? null : r.value;
  }

  async close(): Promise<void> {
    this.rl.close();
  }
}

/**
 * A terminal: a new readline for each prompt, closed as soon as a line is read. So while a
 * command runs no readline holds the terminal: a credential prompt asked during a lookup reads
 * it alone, and its answer can never land in the command history (a long-lived readline would
 * read and record those keystrokes too, even when paused). Lines pasted together arrive in one
 * chunk: the ones after the first are queued and run in turn.
 */
class TerminalReader implements LineReader {
  private history: string[];
  private readonly queue: string[] = [];

  private constructor(
    private readonly session: ShellSession,
    private readonly input: NodeJS.ReadStream,
    private readonly output: NodeJS.WriteStream,
    history: string[],
    private readonly writer: HistoryWriter | undefined,
  ) {
    this.history = history;
  }

  static async open(session: ShellSession, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<TerminalReader> {
    const file = historyFile();
    const history = file ? await readHistory(file) : [];
    const writer = file ? new HistoryWriter(file, (message) => warn(message)) : undefined;
    return new TerminalReader(session, input, output, history, writer);
  }

  next(): Promise<string | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const rl = createInterface({
        input: this.input,
        output: this.output,
        terminal: true,
        prompt: PROMPT,
        history: this.history,
        historySize: HISTORY_SIZE,
        removeHistoryDuplicates: true,
        completer: (line: string) => complete(this.session, line),
      });
      let answered = false;
      const answer = (line: string | null): void => {
        answered = true;
        // Closed on the next turn: the rest of a pasted chunk is still being read into lines.
        setImmediate(() => {
          rl.close();
          resolve(line);
        });
      };
      rl.on('history', (h: string[]) => {
        this.history = h;
        this.writer?.save(h);
      });
      rl.on('line', (line: string) => {
        if (answered) this.queue.push(line);
        else answer(line);
      });
      // Ctrl+C at the prompt drops the line being typed, as a shell does.
      rl.on('SIGINT', () => {
        if (answered) return;
        this.output.write('^C\n');
        answer('');
      });
      // Ctrl+D on an empty line, or the terminal went away.
      rl.on('close', () => {
        if (!answered) {
          answered = true;
          resolve(null);
        }
      });
      rl.prompt();
    });
  }

  async close(): Promise<void> {
    await this.writer?.flush();
  }
}
