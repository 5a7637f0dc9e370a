import { readFileSync } from 'node:fs';

/**
 * The package version, read once from package.json (which ships with the package and sits two
 * folders above dist/src/), so the User-Agent never drifts from what was released.
 */
function readVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const VERSION = readVersion();
export const USER_AGENT = `symsrv/${VERSION}`;
