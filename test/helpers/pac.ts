import assert from 'node:assert/strict';
import { isSymsrvError } from '../../src/errors.js';

/** Shared by the PAC tests (src/transport/select/pac.test.ts, pac-file.test.ts). */

/**
 * A corporate PAC file of the usual shape. `isInNet` resolves its first argument through DNS, so
 * it is only given IP literals here (the regular expression guard): these tests use no network.
 */
export const CORP_PAC = `
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example") || localHostOrDomainIs(host, "corp.example")) {
    return "DIRECT";
  }
  if (/^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(host) && isInNet(host, "10.0.0.0", "255.0.0.0")) {
    return "DIRECT";
  }
  if (shExpMatch(host, "*.microsoft.com") && shExpMatch(url, "https:*")) {
    return "PROXY a.corp.example:1; PROXY b.corp.example:2; DIRECT";
  }
  if (shExpMatch(url, "http:*")) {
    return "PROXY web.corp.example:3128";
  }
  return "PROXY a.corp.example:1";
}
`;

export const MSDL = new URL('https://msdl.microsoft.com/download/symbols/ntdll.pdb/1EB3F8A2D4C1E3B1C0A2F3E4D5C6B7A81/ntdll.pdb');

export async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isSymsrvError(err), `expected a SymsrvError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}
