import { readFileSync } from 'node:fs';

/**
 * The package version, read once from package.json (which ships with the package), so the
 * User-Agent never drifts from what was released. It is looked for in the folders above this
 * module: two up from dist/src/version.js, one up from the bundled command in dist/bin/.
 */
function readVersion(): string {
  for (const up of ['../../package.json', '../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'symsrv' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next folder up
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
export const USER_AGENT = `symsrv/${VERSION}`;
