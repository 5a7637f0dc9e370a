import { SymsrvError } from '../errors.js';
import { symfixPath } from '../symbolpath/defaults.js';
import { moduleList, stateLine, symbolPathLines } from './format.js';
import { selectModules, type ShellModule } from './modules.js';
import type { ShellSession } from './session.js';
import { limited } from '../limited.js';

/**
 * The console's commands, named and used as in WinDbg/cdb (names are case-insensitive), in one
 * table. A command writes its output line by line to `io.write`; `executeCommand` never throws
 * for a bad command or a failed lookup, so the loop goes on.
 */

export interface CommandIO {
  /** Writes one line of output (no trailing newline). */
  write(line: string): void;
  /** Aborted by Ctrl+C while the command runs. */
  signal?: AbortSignal;
}

interface Command {
  /** Lower-case names; the first is the one `.help` shows. */
  names: readonly string[];
  usage: string;
  summary: string;
  run(session: ShellSession, args: string, io: CommandIO): Promise<'quit' | void> | 'quit' | void;
}

const COMMANDS: readonly Command[] = [
  {
    names: ['.sympath'],
    usage: '.sympath [PATH]',
    summary: 'show the symbol path, or set it',
    async run(s, args, io) {
      if (args !== '') await s.setSymbolPath(args);
      for (const line of symbolPathLines(s.symbolPath, args === '' ? s.symbolPathSource : undefined)) io.write(line);
    },
  },
  {
    names: ['.sympath+'],
    usage: '.sympath+ PATH',
    summary: 'append PATH to the symbol path (with ;)',
    async run(s, args, io) {
      if (args === '') throw usage('.sympath+ PATH');
      await s.setSymbolPath(append(s.symbolPath, args));
      for (const line of symbolPathLines(s.symbolPath)) io.write(line);
    },
  },
  {
    names: ['.symfix'],
    usage: '.symfix [CACHE]',
    summary: "set the path to Microsoft's symbol server, cached in CACHE (default: the default downstream store)",
    async run(s, args, io) {
      await s.setSymbolPath(symfixPath(args === '' ? undefined : args));
      for (const line of symbolPathLines(s.symbolPath)) io.write(line);
    },
  },
  {
    names: ['.symfix+'],
    usage: '.symfix+ [CACHE]',
    summary: "append Microsoft's symbol server to the symbol path",
    async run(s, args, io) {
      await s.setSymbolPath(append(s.symbolPath, symfixPath(args === '' ? undefined : args)));
      for (const line of symbolPathLines(s.symbolPath)) io.write(line);
    },
  },
  {
    names: ['!sym'],
    usage: '!sym [noisy|quiet|prompts|prompts off]',
    summary: 'print every probe (noisy) or not (quiet); allow credential prompts or not',
    run(s, args, io) {
      const words = args.toLowerCase().split(/\s+/).filter(Boolean).join(' ');
      switch (words) {
        case '':
          break;
        case 'noisy':
          s.noisy = true;
          break;
        case 'quiet':
          s.noisy = false;
          break;
        case 'prompts':
        case 'prompts on':
          s.setPrompts(true);
          break;
        case 'prompts off':
          s.setPrompts(false);
          break;
        default:
          throw usage('!sym <noisy/quiet - prompts/prompts off>');
      }
      // The debugger's answer to every form of !sym: both settings, on one line.
      io.write(`${s.noisy ? 'noisy' : 'quiet'} mode - symbol prompts ${s.promptsOn ? 'on' : 'off'}`);
    },
  },
  {
    names: ['.reload'],
    usage: '.reload [/f] [MODULE]',
    summary: 'look up the symbols of all modules (or MODULE) not loaded yet; /f: look up loaded ones again too',
    async run(s, args, io) {
      let force = false;
      const names: string[] = [];
      for (const token of args.split(/\s+/).filter(Boolean)) {
        if (/^[/-]/.test(token)) {
          for (const c of token.slice(1).toLowerCase()) {
            if (c === 'f') force = true;
            else throw new SymsrvError('E_USAGE', `.reload: unknown option '${token}' (usage: .reload [/f] [MODULE])`);
          }
        } else {
          names.push(token);
        }
      }
      if (names.length > 1) throw usage('.reload [/f] [MODULE]');
      const pattern = names[0];
      const chosen = pattern === undefined ? s.modules : pick(s, pattern);
      const todo = chosen.filter((m) => m.key && (force || m.state.status !== 'loaded'));
      if (todo.length === 0) {
        if (s.modules.length === 0) io.write('no modules (name binaries or folders after `symsrv shell`)');
        else if (chosen.every((m) => !m.key)) for (const m of chosen) io.write(stateLine(m));
        else io.write(`symbols already loaded${pattern === undefined ? '' : ` for ${pattern}`} (.reload /f looks them up again)`);
        return;
      }
      await lookUp(s, todo, io);
    },
  },
  {
    names: ['ld'],
    usage: 'ld MODULE',
    summary: "load MODULE's symbols now",
    async run(s, args, io) {
      if (args === '' || /\s/.test(args)) throw usage('ld MODULE');
      const chosen = pick(s, args);
      const todo: ShellModule[] = [];
      for (const m of chosen) {
        if (m.state.status === 'loaded') io.write(`Symbols already loaded for ${m.name}`);
        else if (!m.key) io.write(stateLine(m));
        else todo.push(m);
      }
      await lookUp(s, todo, io);
    },
  },
  {
    names: ['lm'],
    usage: 'lm [v] [l|e] [m PATTERN]',
    summary: 'list modules: name, symbol state, PDB path or reason (v: verbose; l: loaded only; e: problems only; m: matching PATTERN)',
    run(s, args, io) {
      const o = parseLmOptions(args);
      let list = o.pattern === undefined ? s.modules : selectModules(s.modules, o.pattern);
      if (o.loadedOnly) list = list.filter((m) => m.state.status === 'loaded');
      if (o.problemsOnly) list = list.filter((m) => m.state.status === 'missing' || m.state.status === 'error');
      if (list.length === 0 && s.modules.length > 0) {
        io.write(`no module matches${o.pattern === undefined ? '' : ` '${o.pattern}'`}`);
        return;
      }
      for (const line of moduleList(list, o.verbose)) io.write(line);
    },
  },
  {
    names: ['.help', '?'],
    usage: '.help',
    summary: 'this list',
    run(_s, _args, io) {
      const width = Math.max(...COMMANDS.map((c) => c.usage.length));
      for (const c of COMMANDS) io.write(`${c.usage.padEnd(width)}  ${c.summary}`);
    },
  },
  {
    names: ['q', 'qq', 'qd'],
    usage: 'q',
    summary: 'quit (end of input too)',
    run: () => 'quit',
  },
];

const TABLE = new Map<string, Command>(COMMANDS.flatMap((c) => c.names.map((n) => [n, c] as const)));

/** A command line split into its name (lower case) and the rest; undefined for an empty line. */
export function parseCommandLine(line: string): { name: string; args: string } | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  // `lm` takes its options glued on as well, as the debugger does: `lmv`, `lmvm crash`, `lml`.
  const lm = /^lm([vlem]*)(?=\s|$)/i.exec(text);
  if (lm) return { name: 'lm', args: `${lm[1]!} ${text.slice(lm[0].length).trim()}`.trim() };
  const space = text.search(/\s/);
  const name = (space < 0 ? text : text.slice(0, space)).toLowerCase();
  const args = space < 0 ? '' : unquote(text.slice(space).trim());
  return { name, args };
}

/**
 * Runs one command line. Returns 'quit' for `q`, else 'continue'. Bad commands, bad arguments and
 * failed lookups are written as one line (never a stack trace); only the caller's own write can throw.
 */
export async function executeCommand(session: ShellSession, line: string, io: CommandIO): Promise<'quit' | 'continue'> {
  const parsed = parseCommandLine(line);
  if (!parsed) return 'continue';
  const command = TABLE.get(parsed.name);
  if (!command) {
    io.write(`Couldn't resolve error at '${line.trim()}' (.help lists the commands)`);
    return 'continue';
  }
  try {
    const r = await session.withOutput(io.write, async () => command.run(session, parsed.args, io));
    return r === 'quit' ? 'quit' : 'continue';
  } catch (err) {
    if (err instanceof SymsrvError) {
      io.write(err.message);
    } else {
      // A bug of ours: said plainly; the stack only when asked for, as main.ts does.
      io.write(`internal error: ${(err as Error)?.message ?? String(err)} (a bug in symsrv; SYMSRV_DEBUG=1 prints the details)`);
      if (process.env.SYMSRV_DEBUG) io.write(String((err as Error)?.stack ?? ''));
    }
    return 'continue';
  }
}

/** Runs one command line and returns what it printed (lines joined with \n, ending with \n when not empty). */
export async function runCommand(session: ShellSession, line: string, signal?: AbortSignal): Promise<string> {
  const lines: string[] = [];
  await executeCommand(session, line, { write: (l) => lines.push(l), ...(signal ? { signal } : {}) });
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** Tab completion: command names at the start of a line, module names after `.reload` and `ld`. */
export function complete(session: ShellSession, line: string): [string[], string] {
  const m = /^(\s*)(\S*)$/.exec(line);
  if (m) {
    const word = m[2]!.toLowerCase();
    return [[...TABLE.keys()].filter((n) => n.startsWith(word)).sort(), m[2]!];
  }
  const parsed = parseCommandLine(line);
  if (parsed && (parsed.name === '.reload' || parsed.name === 'ld' || parsed.name === 'lm')) {
    const last = /(\S*)$/.exec(line)![1]!;
    if (last.startsWith('/')) return [[], last];
    const hits = session.modules.map((mod) => mod.name).filter((n) => n.toLowerCase().startsWith(last.toLowerCase()));
    return [hits, last];
  }
  return [[], line];
}

/**
 * Looks the modules up, `session.jobs` at a time (one at a time in noisy mode, so each module's
 * probes are printed together), and prints one line per module in list order as results come in.
 */
async function lookUp(s: ShellSession, modules: readonly ShellModule[], io: CommandIO): Promise<void> {
  const limit = s.noisy ? 1 : s.jobs;
  const results = limited(modules, limit, async (m) => {
    if (io.signal?.aborted) return undefined;
    return s.lookup(m, io.signal);
  });
  let interrupted = 0;
  for (let i = 0; i < modules.length; i++) {
    const state = await results[i]!;
    if (state === undefined) interrupted++;
    else io.write(stateLine(modules[i]!));
  }
  if (interrupted > 0) io.write(`interrupted: ${interrupted} module${interrupted === 1 ? '' : 's'} not looked up`);
}

function pick(s: ShellSession, pattern: string): ShellModule[] {
  const chosen = selectModules(s.modules, pattern);
  if (chosen.length === 0) throw new SymsrvError('E_USAGE', `no module matches '${pattern}' (lm lists them)`);
  return chosen;
}

interface LmOptions {
  verbose: boolean;
  loadedOnly: boolean;
  problemsOnly: boolean;
  pattern: string | undefined;
}

/** `lm` options: letters, alone or glued (`v`, `l`, `e`, `m PATTERN`); a lone word is taken as the pattern. */
function parseLmOptions(args: string): LmOptions {
  const o: LmOptions = { verbose: false, loadedOnly: false, problemsOnly: false, pattern: undefined };
  let wantPattern = false;
  for (const token of args.split(/\s+/).filter(Boolean)) {
    if (wantPattern) {
      o.pattern = token;
      wantPattern = false;
    } else if (/^[vlem]+$/i.test(token) && o.pattern === undefined) {
      for (const c of token.toLowerCase()) {
        if (c === 'v') o.verbose = true;
        else if (c === 'l') o.loadedOnly = true;
        else if (c === 'e') o.problemsOnly = true;
        else wantPattern = true;
      }
    } else if (o.pattern === undefined) {
      o.pattern = token;
    } else {
      throw usage('lm [v] [l|e] [m PATTERN]');
    }
  }
  if (wantPattern) throw usage('lm [v] [l|e] [m PATTERN]');
  return o;
}

function append(path: string, more: string): string {
  const base = path.replace(/[;\s]+$/, '');
  return base === '' ? more : `${base};${more}`;
}

/** `".sympath "C:\My Symbols"`: one pair of surrounding double quotes is dropped. */
function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
}

function usage(text: string): SymsrvError {
  return new SymsrvError('E_USAGE', `usage: ${text}`);
}
