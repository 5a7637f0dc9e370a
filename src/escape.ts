/**
 * Outside text (from servers, proxies, PAC scripts, files) made safe for a terminal or a log.
 * Control characters could move the cursor, redraw the screen around a password prompt, set the
 * window title or forge earlier lines (C0, DEL, and the C1 range, which some terminals read as
 * 8-bit CSI/OSC; CVE-2021-25743 and the like); the Unicode line separators and bidirectional
 * overrides can hide or reorder text. Each C0/DEL/C1 character becomes `\xNN`, the others
 * `\u{NNNN}`; everything else, backslashes of Windows paths included, stays readable.
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROLS_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** One piece of outside text (a name, a realm, a reason phrase, a pointer's message): every control escaped, newlines too. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, escapeOne);
}

/**
 * Whole messages and output lines, which may span lines of our own: tab and newline stay, every
 * other control is escaped. What the output writers and SymsrvError's messages use, on top of
 * escapeControls at the places where one-line outside text is put into them.
 */
export function escapeOutput(text: string): string {
  return text.replace(CONTROLS_BUT_LINES, escapeOne);
}
