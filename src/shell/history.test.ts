import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { maskUserinfo } from '../redact.js';
import { HISTORY_SIZE, HistoryWriter, historyFile, readHistory } from './history.js';

describe('the history file', () => {
  let tmp: string;
  before(async () => {
    tmp = await makeTempDir('symsrv-shell-hist-');
  });
  after(() => removeDir(tmp));

  test('SYMSRV_SHELL_HISTORY names the file (empty: none); else shell_history in the data folder', () => {
    assert.equal(historyFile({ SYMSRV_SHELL_HISTORY: '/x/h' }), '/x/h');
    assert.equal(historyFile({ SYMSRV_SHELL_HISTORY: '' }), undefined);
    assert.match(historyFile({})!, /symsrv[\\/]+(Data[\\/]+)?shell_history$/);
  });

  test('written oldest first, owner-only, read back newest first; lines with URL userinfo are not saved', async () => {
    const file = join(tmp, 'sub/dir/h');
    const w = new HistoryWriter(file);
    // regression: passwords holding `;`, `*` or a space were written to the file
    w.save(['lm', '.sympath srv*c*https://bob:pw@host/s', '.sympath srv*c*https://bob:p;w@host/s', '.sympath srv*c*https://bob:p*w@host/s', '.sympath srv*c*https://bob:p w@host/s', '.reload']);
    await w.flush();
    assert.equal(await readFile(file, 'utf8'), '.reload\nlm\n');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readHistory(file), ['lm', '.reload']);
    assert.deepEqual(await readHistory(join(tmp, 'none')), []);
  });

  test(`at most ${HISTORY_SIZE} lines are kept`, async () => {
    const file = join(tmp, 'long');
    await writeFile(file, Array.from({ length: HISTORY_SIZE + 5 }, (_, i) => `c${i}`).join('\n') + '\n');
    const h = await readHistory(file);
    assert.equal(h.length, HISTORY_SIZE);
    assert.equal(h[0], `c${HISTORY_SIZE + 4}`);
  });

  test('a file that cannot be written is reported once, and the console goes on', async () => {
    const errors: string[] = [];
    await writeFile(join(tmp, 'afile'), '');
    const w = new HistoryWriter(join(tmp, 'afile/h'), (m) => errors.push(m));
    w.save(['lm']);
    w.save(['q', 'lm']);
    await w.flush();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /cannot save the command history to .*afile\/h: E[A-Z]+/);
  });

  test('maskUserinfo hides user and password in every URL of a line', () => {
    assert.equal(maskUserinfo('srv*c*https://u:p@a/s;srv*d*http://v@b/s'), 'srv*c*https://***@a/s;srv*d*http://***@b/s');
    assert.equal(maskUserinfo('srv*c*https://a/s'), 'srv*c*https://a/s');
  });
});
