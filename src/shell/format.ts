import { explainSymbolPath, formatExplanation } from '../symbolpath/explain.js';
import { parseSymbolPath } from '../symbolpath/parse.js';
import type { ShellModule } from './modules.js';
import { maskUserinfo } from '../redact.js';

/** What the console prints: module lists, symbol states, the symbol path. Pure functions of the state. */

/** The state in one word, as `lm` shows it in its symbols column. */
export function stateWord(m: ShellModule): string {
  return m.state.status;
}

/** The PDB path, or why there is none. */
export function stateDetail(m: ShellModule): string {
  switch (m.state.status) {
    case 'deferred':
      return '';
    case 'loaded':
      return m.state.path;
    case 'missing':
      return `${m.key?.index ?? 'the symbol file'} not found`;
    case 'error':
      return m.state.message;
  }
}

/** `crash: loaded /sym/crash.pdb/.../crash.pdb`: what `.reload` and `ld` print per module. */
export function stateLine(m: ShellModule): string {
  const detail = stateDetail(m);
  return `${m.name}: ${stateWord(m)}${detail ? ` ${detail}` : ''}`;
}

/**
 * `lm`: one line per module, `module  symbols  path-or-reason`, like the debugger's `lm` without
 * the address columns (there is no process, so no addresses); `verbose` (`lm v`) adds the image
 * file, the symbol key and the store a file came from.
 */
export function moduleList(modules: readonly ShellModule[], verbose = false): string[] {
  if (modules.length === 0) return ['no modules (name binaries or folders after `symsrv shell`)'];
  const width = Math.max(6, ...modules.map((m) => m.name.length));
  const lines = [`${'module'.padEnd(width)}  symbols`];
  for (const m of modules) {
    const detail = stateDetail(m);
    lines.push(`${m.name.padEnd(width)}  ${stateWord(m).padEnd(8)}${detail ? `  ${detail}` : ''}`.trimEnd());
    if (verbose) {
      lines.push(`    image:  ${m.file}`);
      lines.push(`    key:    ${m.key ? `${m.key.index} (${m.keyKind})` : 'none'}`);
      if (m.state.status === 'loaded') lines.push(`    store:  ${m.state.store}`);
    }
  }
  return lines;
}

/**
 * `.sympath`: the path and what each element does (the debugger prints "Symbol search path is:"
 * and its expansion). Userinfo in URLs is masked: a `https://user:pw@host` element must not end
 * up on the screen or in a pasted transcript.
 */
export function symbolPathLines(text: string, source?: string): string[] {
  const shown = maskUserinfo(text);
  const lines = [`Symbol search path is: ${shown === '' ? '<empty>' : shown}${source ? `  (${source})` : ''}`];
  const explained = formatExplanation(explainSymbolPath(parseSymbolPath(text)));
  lines.push(...maskUserinfo(explained).split('\n'));
  return lines;
}
