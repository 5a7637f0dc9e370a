import { appendFile, mkdir, open, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { SymsrvError } from '../../errors.js';
import { ioError, writeAtomically } from '../atomic.js';

/**
 * SymStore's bookkeeping in `000Admin` (docs/store-layout.md says where each rule comes from):
 *
 *   lastid.txt     the last transaction id, 10 digits, no line end
 *   server.txt     one line per add transaction still in the store
 *   history.txt    every add and del transaction, in order
 *   NNNNNNNNNN     one file per add transaction: `"name\ID","source path"` per stored file
 *   NNNNNNNNNN.deleted  the same after `del` (as the symstore Python package's stores show)
 *   ../pingme.txt  touched by every transaction (mirrors and caches poll its time)
 *
 * Lines end with CRLF, as symstore.exe writes them. Transactions are serialised by a lock on the
 * store (proper-lockfile: a lock folder `000Admin.lock`, refreshed while held, taken over when
 * stale), so two `symsrv add` runs at once get distinct ids and whole lines; symstore.exe itself
 * has no such lock ("SymStore does not support simultaneous transactions from multiple users").
 */

export const ADMIN_DIR = '000Admin';
export const PINGME = 'pingme.txt';
const EOL = '\r\n';

export type Ref = 'file' | 'ptr';

export interface AddRecord {
  id: string;
  ref: Ref;
  when: Date;
  product: string;
  version: string;
  comment: string;
}

/** A transaction id as SymStore writes it: 10 digits. */
export function formatId(n: number): string {
  return String(n).padStart(10, '0');
}

/** `0000000001,add,file,12/04/2026,15:04:05,"product","version","comment",` */
export function addLine(r: AddRecord): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const date = `${p2(r.when.getMonth() + 1)}/${p2(r.when.getDate())}/${r.when.getFullYear()}`;
  const time = `${p2(r.when.getHours())}:${p2(r.when.getMinutes())}:${p2(r.when.getSeconds())}`;
  return `${r.id},add,${r.ref},${date},${time},"${quoteless(r.product)}","${quoteless(r.version)}","${quoteless(r.comment)}",`;
}

/** Fields are written between quotes with no escape: a quote or line break in one would break the line. */
function quoteless(text: string): string {
  return text.replace(/["\r\n]/g, ' ');
}

/** The id of a server.txt / history.txt line, or undefined for a line that is not one. */
export function lineId(line: string): string | undefined {
  return /^(\d{10}),/.exec(line)?.[1];
}

export class AdminFiles {
  readonly dir: string;

  constructor(readonly store: string) {
    this.dir = join(store, ADMIN_DIR);
  }

  /** Runs `work` holding the store's lock; creates the store and 000Admin first if needed. */
  async locked<T>(work: () => Promise<T>): Promise<T> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw ioError(`cannot create ${this.dir}`, err, this.dir);
    }
    let release: () => Promise<void>;
    try {
      // Another add may hold it for as long as its copies take: wait up to ~10 minutes.
      release = await lockfile.lock(this.dir, { stale: 30_000, update: 5_000, retries: { retries: 600, factor: 1, minTimeout: 100, maxTimeout: 1000 }, realpath: false });
    } catch (err) {
      throw new SymsrvError('E_IO', `cannot lock the store ${this.store}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (another symsrv add or del is running?)`, {
        cause: err,
        subject: this.store,
      });
    }
    try {
      return await work();
    } finally {
      await release().catch(() => undefined);
    }
  }

  async lastId(): Promise<number> {
    const text = await this.read('lastid.txt');
    if (text === undefined || text.trim() === '') return 0;
    const n = Number(text.trim());
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new SymsrvError('E_IO', `${join(this.dir, 'lastid.txt')} does not hold a transaction id ("${text.trim().slice(0, 20)}")`, { subject: this.dir });
    }
    return n;
  }

  async setLastId(id: string): Promise<void> {
    await this.replace('lastid.txt', id);
  }

  /** Lines of server.txt (the transactions in the store). */
  async serverLines(): Promise<string[]> {
    return lines(await this.read('server.txt'));
  }

  async setServerLines(list: string[]): Promise<void> {
    await this.replace('server.txt', list.map((l) => l + EOL).join(''));
  }

  async appendServer(line: string): Promise<void> {
    await this.append('server.txt', line);
  }

  async appendHistory(line: string): Promise<void> {
    await this.append('history.txt', line);
  }

  async writeTransaction(id: string, entries: { name: string; id: string; source: string }[]): Promise<void> {
    await this.replace(id, entries.map((e) => `"${e.name}\\${e.id}","${e.source}"${EOL}`).join(''));
  }

  /** The entries of a transaction file: `"name\ID","source"` per line. */
  async readTransaction(id: string): Promise<{ name: string; id: string; source: string }[]> {
    const text = await this.read(id);
    if (text === undefined) throw new SymsrvError('E_IO', `the transaction file ${join(this.dir, id)} is missing`, { subject: this.dir });
    const out: { name: string; id: string; source: string }[] = [];
    for (const line of lines(text)) {
      const m = /^"([^"\\]+)\\([^"\\]+)","([^"]*)"$/.exec(line);
      if (!m) throw new SymsrvError('E_IO', `unreadable line in ${join(this.dir, id)}: ${JSON.stringify(line.slice(0, 80))}`, { subject: this.dir });
      out.push({ name: m[1]!, id: m[2]!, source: m[3]! });
    }
    return out;
  }

  async markDeleted(id: string): Promise<void> {
    try {
      await rename(join(this.dir, id), join(this.dir, `${id}.deleted`));
    } catch (err) {
      throw ioError(`cannot rename ${join(this.dir, id)}`, err, this.dir);
    }
  }

  async touchPingme(when: Date): Promise<void> {
    const path = join(this.store, PINGME);
    try {
      await (await open(path, 'a')).close();
      await utimes(path, when, when);
    } catch (err) {
      throw ioError(`cannot touch ${path}`, err, path);
    }
  }

  private async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.dir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(`cannot read ${join(this.dir, name)}`, err, this.dir);
    }
  }

  /** A whole-file rewrite goes through temp + rename: a reader never sees half of it. */
  private async replace(name: string, text: string): Promise<void> {
    await writeAtomically(this.dir, name, (temp) => writeFile(temp, text));
  }

  /** Appends one line; adds the missing line end of a file written without one (the Python symstore does that). */
  private async append(name: string, line: string): Promise<void> {
    const path = join(this.dir, name);
    try {
      const before = await this.read(name);
      const gap = before && !before.endsWith('\n') ? EOL : '';
      await appendFile(path, gap + line + EOL);
    } catch (err) {
      if (err instanceof SymsrvError) throw err;
      throw ioError(`cannot write ${path}`, err, path);
    }
  }
}

function lines(text: string | undefined): string[] {
  if (!text) return [];
  return text.split(/\r?\n/).filter((l) => l.trim() !== '');
}
