import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeControls, escapeOutput } from './escape.js';

test('escapeControls writes every C0 control, DEL and C1 control as \\xHH, line separators and bidi overrides as \\u{...}', () => {
  assert.equal(escapeControls('a\x1b[2Jb\rc\x07d\x7fe\u009b31mf\u0085'), 'a\\x1b[2Jb\\x0dc\\x07d\\x7fe\\x9b31mf\\x85');
  assert.equal(escapeControls('realm\nforged line\there'), 'realm\\x0aforged line\\x09here');
  assert.equal(escapeControls('abc\u202egnp.exe\u2028x'), 'abc\\u{202e}gnp.exe\\u{2028}x');
  assert.equal(escapeControls('C:\\build\\é ü 中.pdb'), 'C:\\build\\é ü 中.pdb');
});

test('escapeOutput keeps tab and newline (our own multi-line output) and escapes the rest', () => {
  assert.equal(escapeOutput('line 1\n\tline 2 é ü 中'), 'line 1\n\tline 2 é ü 中');
  assert.equal(escapeOutput('a\x1b]0;title\x07b\u009b'), 'a\\x1b]0;title\\x07b\\x9b');
});
