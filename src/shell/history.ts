import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import envPaths from 'env-paths';
import { hasUserinfo } from '../redact.js';

/**
 * The console's command history on disk: one command per line, oldest first (as shells write
 * theirs), at most {@link HISTORY_SIZE} lines, readable by its owner only.
 *
 * Only command lines typed at the console's prompt reach it: the CLI removes its readline from the
 * terminal while a command runs, so an answer typed at a credential prompt (asked during a lookup)
 * is never seen by it. Command lines that carry URL userinfo (`https://user:pw@host`) are kept
 * for the session's Up arrow but not written to the file.
 */

export const HISTORY_SIZE = 1000;

/** `SYMSRV_SHELL_HISTORY` (empty: no history file), else `shell_history` in the user's data folder. */
export function historyFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env['SYMSRV_SHELL_HISTORY'];
  if (set !== undefined) return set.trim() === '' ? undefined : set;
  // env-paths reads XDG_DATA_HOME / the home folder itself: ~/.local/share/symsrv on Linux,
  // ~/Library/Application Support/symsrv on macOS, %LOCALAPPDATA%\symsrv\Data on Windows.
  return join(envPaths('symsrv', { suffix: '' }).data, 'shell_history');
}

/** The saved commands, newest first (readline's `history` order); [] when there is no file. */
export async function readHistory(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(-HISTORY_SIZE)
    .reverse();
}

/**
 * Writes the history after each command, one write at a time (each replaces the file through a
 * temporary file and a rename, so a crash never leaves half a file). A failure is reported once
 * through `onError`, and the console goes on without saving.
 */
export class HistoryWriter {
  private chain: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    readonly file: string,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  /** `newestFirst`: readline's history array. */
  save(newestFirst: readonly string[]): void {
    if (this.failed) return;
    const lines = newestFirst
      .filter((l) => l.trim() !== '' && !hasUserinfo(l))
      .slice(0, HISTORY_SIZE)
      .reverse();
    const text = lines.length === 0 ? '' : lines.join('\n') + '\n';
    this.chain = this.chain.then(() => this.write(text));
  }

  /** Waits for the writes queued so far. */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(text: string): Promise<void> {
    if (this.failed) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(tmp, text, { mode: 0o600 });
      await chmod(tmp, 0o600); // writeFile's mode applies to new files only
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      this.failed = true;
      this.onError(`cannot save the command history to ${this.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
}
