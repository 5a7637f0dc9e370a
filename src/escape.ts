/**
 * Outside text (from servers, proxies, PAC scripts, files) made safe for a terminal or a log:
 * every C0 control but tab and newline, DEL and every C1 control (U+0080-U+009F, which some
 * terminals take as CSI and OSC) is written as `\xHH`. A server's reason phrase or a Basic realm
 * can otherwise move the cursor, redraw the screen around a password prompt, set the window
 * title or forge earlier lines (CVE-2021-25743 and the like). Newlines stay: callers put
 * one-line outside text in their own lines, and the output writers escape whole messages.
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
