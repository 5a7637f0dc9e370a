/**
 * Makes outside text (file names from a CodeView record, server answers) safe to print: control
 * characters could move the cursor, redraw a prompt or retitle the terminal (C0, DEL, and the C1
 * range, which some terminals read as 8-bit CSI/OSC). Each becomes `\xNN`; the Unicode line
 * separators and bidirectional overrides, which can hide or reorder text, become `\u{NNNN}`.
 * Everything else, backslashes of Windows paths included, stays as it was, so text stays readable.
 */
export function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
