import { join } from 'node:path';
import { startNginx, type NginxServer } from './nginx.js';
import { fixture } from './readers.js';
import { buildStore } from './store.js';
import { makeTempDir, removeDir } from './tempdir.js';

/** Store keys of the fixture PDBs (test/fixtures/README.md: GUID and age as llvm-pdbutil reads them). */
export const CRASH = 'crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb';
export const CWE = 'CrashWithException.pdb/F535C5FB2AE84BB8AA206C30BE566C5A1/CrashWithException.pdb';
export const HELLO = 'HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb';

export interface FixtureStore {
  /** A temp dir of the test's own; the store is `tmp/www`. */
  tmp: string;
  /** nginx serving the store under `/store/`. */
  nginx: NginxServer;
  stop(): Promise<void>;
}

/**
 * crash.pdb and CrashWithException.pdb in a two-tier store served by a real nginx (HelloWorld.pdb
 * is left out: a key to miss), for the tests of the layers above the stores.
 */
export async function startFixtureStore(prefix: string): Promise<FixtureStore> {
  const tmp = await makeTempDir(prefix);
  await buildStore(join(tmp, 'www'), [
    { path: fixture('pdb/crash.pdb'), key: CRASH },
    { path: fixture('pdb/CrashWithException.pdb'), key: CWE },
  ]);
  const nginx = await startNginx({ root: join(tmp, 'www') });
  return {
    tmp,
    nginx,
    stop: async () => {
      await nginx.stop();
      await removeDir(tmp);
    },
  };
}
