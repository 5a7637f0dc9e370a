import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './readers.js';

/** Paths of the binaries scripts/build-testbins.sh builds (see that script for what each one is). */
export interface Testbins {
  dir: string;
  hello64: { image: string; pdb: string };
  hello32: { image: string; pdb: string };
  lib64: { image: string; pdb: string };
  lib32: { image: string; pdb: string };
  /** Linked with /pdbaltpath:%_PDB%. */
  alt64: { image: string; pdb: string };
  /** Linked with /pdbpagesize:8192. */
  big8k: { image: string; pdb: string };
  /** A stripped ELF program with a SHA-1 build-id and its debug file. */
  elf: { stripped: string; debug: string };
}

/** Where the tests keep them: build/ is git-ignored, and a second run rebuilds nothing. */
export const TESTBINS_DIR = join(repoRoot, 'build', 'testbins');

/**
 * Runs scripts/build-testbins.sh OUTDIR (idempotent: only what is older than its sources is
 * built) and returns the paths. A missing compiler is an Error naming the packages to install.
 */
export async function buildTestbins(outDir: string = TESTBINS_DIR): Promise<Testbins> {
  try {
    await promisify(execFile)('bash', [join(repoRoot, 'scripts', 'build-testbins.sh'), outDir], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/build-testbins.sh failed: ${e.stderr?.trim() || e.message}`);
  }
  const pe = (name: string, ext: 'exe' | 'dll') => ({ image: join(outDir, `${name}.${ext}`), pdb: join(outDir, `${name}.pdb`) });
  return {
    dir: outDir,
    hello64: pe('hello64', 'exe'),
    hello32: pe('hello32', 'exe'),
    lib64: pe('lib64', 'dll'),
    lib32: pe('lib32', 'dll'),
    alt64: pe('alt64', 'exe'),
    big8k: pe('big8k', 'exe'),
    elf: { stripped: join(outDir, 'elfdebug', 'prog'), debug: join(outDir, 'elfdebug', 'prog.debug') },
  };
}
