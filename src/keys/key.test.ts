import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSymsrvError } from '../errors.js';
import {
  baseName,
  checkComponent,
  debuginfodPath,
  elfDebugKey,
  elfKey,
  guidText,
  parseKey,
  pdbKey,
  pdbNb10Key,
  peKey,
  portablePdbKey,
  ssqpBuildId,
} from './key.js';

// Worked examples from test/fixtures/README.md (facts read by llvm-readobj, llvm-pdbutil, readelf)
// and docs/keys.md. The builders need no file: these are the values a minidump would give.

/** 16 bytes in file order, as llvm-readobj prints PDBGUID. */
const bytes = (spaced: string): Buffer => Buffer.from(spaced.replace(/\s+/g, ''), 'hex');
const isBadKey = (err: unknown): boolean => isSymsrvError(err, 'E_BAD_KEY');

describe('guidText', () => {
  it('reverses Data1-3 and keeps Data4 (HelloWorld.pdb, llvm-readobj bytes)', () => {
    assert.equal(guidText(bytes('3E 1B 89 99 AE D7 3B 4C AB FF 8A 2B 4A 9B 0C 43')), '99891B3ED7AE4C3BABFF8A2B4A9B0C43');
  });
  it('is a bug (RangeError, not bad input) for anything but 16 bytes', () => {
    assert.throws(() => guidText(Buffer.alloc(15)), RangeError);
  });
});

describe('peKey', () => {
  it('is %08X timestamp + %x size of image', () => {
    assert.equal(peKey('HelloWorld.exe', 0x577f5919, 0x8000).index, 'HelloWorld.exe/577F59198000/HelloWorld.exe');
    assert.equal(
      peKey('System.Diagnostics.StackTrace.dll', 0x595cd91b, 0x35a00).index,
      'System.Diagnostics.StackTrace.dll/595CD91B35a00/System.Diagnostics.StackTrace.dll',
    );
  });
  it('zero-pads the timestamp to 8 digits and not the size', () => {
    assert.equal(peKey('a.dll', 0x1234, 0x1000).index, 'a.dll/000012341000/a.dll');
  });
  it('keeps a timestamp that is a hash, not a date (Windows 10 ntdll.dll)', () => {
    assert.equal(peKey('ntdll.dll', 0xa5a334d4, 0x1e0000).id, 'A5A334D41e0000');
  });
  it('carries the identity a download must show', () => {
    assert.deepEqual(peKey('crash.exe', 0x5ab38077, 0x9000).identity, { type: 'pe', timestamp: 0x5ab38077, sizeOfImage: 0x9000 });
  });
});

describe('pdbKey', () => {
  it('is the GUID text + %x age, from bytes or from text with dashes', () => {
    const expected = 'HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb';
    assert.equal(pdbKey('HelloWorld.pdb', bytes('3E 1B 89 99 AE D7 3B 4C AB FF 8A 2B 4A 9B 0C 43'), 1).index, expected);
    assert.equal(pdbKey('HelloWorld.pdb', '99891b3e-d7ae-4c3b-abff-8a2b4a9b0c43', 1).index, expected);
  });
  it('prints the age in lower-case hex without padding (CrashTest.pdb age 3, age 0x1a)', () => {
    assert.equal(pdbKey('CrashTest.pdb', '368A7C3A-63A6-44D9-BF65-9B2F4799A1C2', 3).id, '368A7C3A63A644D9BF659B2F4799A1C23');
    assert.equal(pdbKey('x.pdb', '368A7C3A-63A6-44D9-BF65-9B2F4799A1C2', 0x1a).id, '368A7C3A63A644D9BF659B2F4799A1C21a');
  });
  it('carries guid + age as identity', () => {
    assert.deepEqual(pdbKey('crash.pdb', '3249D99D-0C40-4931-8610-F4E4FB0B6936', 1).identity, {
      type: 'pdb',
      guid: '3249D99D0C4049318610F4E4FB0B6936',
      age: 1,
    });
  });
});

describe('pdbNb10Key and portablePdbKey', () => {
  it('NB10: %08X signature + %x age', () => {
    assert.equal(pdbNb10Key('old.pdb', 0x3a2b1c, 2).index, 'old.pdb/003A2B1C2/old.pdb');
  });
  it('portable: GUID + FFFFFFFF in place of an age (System.Threading.Thread.pdb, dir1)', () => {
    const k = portablePdbKey('System.Threading.Thread.pdb', 'A43B3872-6E6A-4B3C-B169-1F35F0D6CC48');
    assert.equal(k.index, 'System.Threading.Thread.pdb/A43B38726E6A4B3CB1691F35F0D6CC48FFFFFFFF/System.Threading.Thread.pdb');
    assert.deepEqual(k.identity, { type: 'portable-pdb', guid: 'A43B38726E6A4B3CB1691F35F0D6CC48' });
  });
});

describe('ELF keys', () => {
  it('elfKey and elfDebugKey of a 20-byte build-id (elf/crash)', () => {
    const id = 'f1c3bcc0279865fe3058404b2831d9e64135386c';
    assert.equal(elfKey('crash', id).index, `crash/elf-buildid-${id}/crash`);
    assert.equal(elfDebugKey(Buffer.from(id, 'hex')).index, `_.debug/elf-buildid-sym-${id}/_.debug`);
  });
  it('pads a 16-byte build-id with zero bytes to 20 (elf/md5_build_id, as dotnet/symstore asserts)', () => {
    const md5 = '001ba81f23966cf77e40bcbb0701cd34';
    assert.equal(ssqpBuildId(md5), `${md5}00000000`);
    assert.equal(elfKey('md5_build_id', md5).index, 'md5_build_id/elf-buildid-001ba81f23966cf77e40bcbb0701cd3400000000/md5_build_id');
    assert.equal(elfDebugKey(md5).index, '_.debug/elf-buildid-sym-001ba81f23966cf77e40bcbb0701cd3400000000/_.debug');
  });
  it('lower-cases a build-id given as text', () => {
    assert.equal(ssqpBuildId('ABCDEF0123456789ABCDEF0123456789ABCDEF01'), 'abcdef0123456789abcdef0123456789abcdef01');
  });
  it('debuginfod uses the build-id unpadded, and refuses non-hex', () => {
    assert.equal(debuginfodPath('001BA81F23966CF77E40BCBB0701CD34'), 'buildid/001ba81f23966cf77e40bcbb0701cd34/debuginfo');
    assert.throws(() => debuginfodPath('../etc'), isBadKey);
  });
});

describe('baseName', () => {
  it('takes the file name of Windows, Unix and bare recorded paths', () => {
    assert.equal(baseName('C:\\build\\obj\\HelloWorld.pdb'), 'HelloWorld.pdb');
    assert.equal(baseName('/root/corefx/bin/obj/System.Diagnostics.StackTrace.pdb'), 'System.Diagnostics.StackTrace.pdb');
    assert.equal(baseName('System.Threading.Thread.ni.pdb'), 'System.Threading.Thread.ni.pdb');
    assert.equal(baseName('D:/mixed\\sep/x.pdb'), 'x.pdb');
  });
});

describe('component checks (CWE-22)', () => {
  for (const bad of ['..', '.', '', 'a/b', 'a\\b', 'a\0b', 'C:x', 'a\nb', 'x'.repeat(256)]) {
    it(`refuses ${JSON.stringify(bad)} as a name in every builder`, () => {
      assert.throws(() => checkComponent(bad, 'k'), isBadKey);
      assert.throws(() => peKey(bad, 1, 2), isBadKey);
      assert.throws(() => pdbKey(bad, Buffer.alloc(16), 1), isBadKey);
      assert.throws(() => pdbNb10Key(bad, 1, 1), isBadKey);
      assert.throws(() => portablePdbKey(bad, Buffer.alloc(16)), isBadKey);
      assert.throws(() => elfKey(bad, 'ab'), isBadKey);
    });
  }
  it('refuses an ID with a separator even from a builder', () => {
    assert.throws(() => pdbKey('a.pdb', '../../../../etc/passwd', 1), isBadKey);
  });
});

describe('parseKey', () => {
  it('infers what each key form must show', () => {
    assert.deepEqual(parseKey('HelloWorld.exe/577F59198000/HelloWorld.exe').identity, { type: 'pe', timestamp: 0x577f5919, sizeOfImage: 0x8000 });
    assert.deepEqual(parseKey('HelloWorld.pdb/99891B3ED7AE4C3BABFF8A2B4A9B0C431/HelloWorld.pdb').identity, {
      type: 'pdb',
      guid: '99891B3ED7AE4C3BABFF8A2B4A9B0C43',
      age: 1,
    });
    assert.deepEqual(parseKey('System.Threading.Thread.pdb/a43b38726e6a4b3cb1691f35f0d6cc48FFFFFFFF/System.Threading.Thread.pdb').identity, {
      type: 'portable-pdb',
      guid: 'A43B38726E6A4B3CB1691F35F0D6CC48',
    });
    assert.deepEqual(parseKey('old.pdb/003A2B1C2/old.pdb').identity, { type: 'pdb-nb10', signature: 0x3a2b1c, age: 2 });
    assert.deepEqual(parseKey('_.debug/elf-buildid-sym-126ba1461caf6644cfdd124bfcceeffa81b18897/_.debug').identity, {
      type: 'elf',
      buildId: '126ba1461caf6644cfdd124bfcceeffa81b18897',
    });
    assert.equal(parseKey('readme.txt/whatever/readme.txt').identity, undefined);
  });
  it('round-trips every builder', () => {
    for (const k of [
      peKey('crash.exe', 0x5ab38077, 0x9000),
      pdbKey('crash.pdb', '3249D99D-0C40-4931-8610-F4E4FB0B6936', 1),
      portablePdbKey('p.pdb', 'CCBCACCE-DCA5-467B-AE40-59282CE78BCE'),
      elfKey('md5_build_id', '001ba81f23966cf77e40bcbb0701cd34'),
      elfDebugKey('001ba81f23966cf77e40bcbb0701cd34'),
    ]) {
      assert.deepEqual(parseKey(k.index), k);
    }
  });
  it('compares the first and last names case-insensitively (SSQP lower-cases names)', () => {
    assert.equal(parseKey('helloworld.exe/577F59198000/HelloWorld.exe').name, 'helloworld.exe');
  });
  for (const bad of [
    '../577F59198000/..',
    'a.pdb/../a.pdb',
    'a.pdb/x/b.pdb',
    'a.pdb/x',
    'a.pdb/x/y/a.pdb',
    'a\\..\\b.pdb/x/a\\..\\b.pdb',
    'a\0.pdb/x/a\0.pdb',
    'a.pdb/x\0/a.pdb',
    'c:/x/c:',
    '/abs/x',
    '',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseKey(bad), isBadKey);
    });
  }
});
