import assert from 'node:assert/strict';
import test from 'node:test';
import { promptsWanted } from './policy.js';

test('prompts: on only when a person can answer, as in cdb', () => {
  const tty = { stdinTTY: true, stderrTTY: true, env: {} };
  assert.equal(promptsWanted(tty), true);
  assert.equal(promptsWanted({ ...tty, stdinTTY: false }), false, 'stdin not a terminal');
  assert.equal(promptsWanted({ ...tty, stderrTTY: false }), false, 'stderr not a terminal');
  assert.equal(promptsWanted({ ...tty, env: { CI: 'true' } }), false, 'CI');
  assert.equal(promptsWanted({ ...tty, json: true }), false, '--json');
  assert.equal(promptsWanted({ ...tty, env: { CI: 'true', SYMSRV_PROMPTS: '1' } }), true, 'SYMSRV_PROMPTS=1');
  assert.equal(promptsWanted({ ...tty, env: { SYMSRV_PROMPTS: '0' } }), false, 'SYMSRV_PROMPTS=0');
  assert.equal(promptsWanted({ ...tty, env: { SYMSRV_PROMPTS: '0' }, flag: true }), true, '--prompts wins');
  assert.equal(promptsWanted({ ...tty, flag: false }), false, '--no-prompts wins');
});
