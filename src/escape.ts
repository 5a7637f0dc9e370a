/** Control characters (C0, DEL, C1) of outside text shown as `\xNN`, so it cannot drive a terminal or forge a log line. */
export function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
