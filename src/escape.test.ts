import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeControls } from './escape.js';

test('escapeControls writes C0 (but tab and newline), DEL and C1 controls as \\xHH', () => {
  assert.equal(escapeControls('a\x1b[2Jb\rc\x07d\x7fe\u009b31mf\u0085'), 'a\\x1b[2Jb\\x0dc\\x07d\\x7fe\\x9b31mf\\x85');
  assert.equal(escapeControls('line 1\n\tline 2 é ü 中'), 'line 1\n\tline 2 é ü 中');
});
