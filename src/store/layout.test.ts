import assert from 'node:assert/strict';
import test from 'node:test';
import { parseKey } from '../keys/key.js';
import { compressedName, keyFolder, storeUrl } from './layout.js';
import { parsePointer } from './pointer.js';

test('two-tier and three-tier folders of a key', () => {
  const key = parseKey('crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb');
  assert.deepEqual(keyFolder(key, false), ['crash.pdb', '3249D99D0C4049318610F4E4FB0B69361']);
  assert.deepEqual(keyFolder(key, true), ['cr', 'crash.pdb', '3249D99D0C4049318610F4E4FB0B69361']);
});

test('the compressed name replaces the last character with an underscore', () => {
  assert.equal(compressedName('ntdll.pdb'), 'ntdll.pd_');
  assert.equal(compressedName('kernel32.dll'), 'kernel32.dl_');
});

test('store URLs percent-encode each component and keep the base path', () => {
  const key = parseKey('a b#.pdb/0123456789ABCDEF0123456789ABCDEF1/a b#.pdb');
  assert.equal(
    storeUrl('https://h/download/symbols', keyFolder(key, false), key.name),
    'https://h/download/symbols/a%20b%23.pdb/0123456789ABCDEF0123456789ABCDEF1/a%20b%23.pdb',
  );
  assert.equal(storeUrl('https://h/s/', ['x'], 'y'), 'https://h/s/x/y');
});

test('file.ptr: PATH, MSG and junk', () => {
  assert.deepEqual(parsePointer('PATH:\\\\server\\share\\foo.pdb\r\n'), { type: 'path', target: '\\\\server\\share\\foo.pdb' });
  assert.deepEqual(parsePointer('\ufeffMSG:Symbols for this build were withdrawn'), { type: 'message', text: 'Symbols for this build were withdrawn' });
  assert.equal(parsePointer('<html>').type, 'invalid');
  assert.equal(parsePointer('PATH:').type, 'invalid');
});
