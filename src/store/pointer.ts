/**
 * `file.ptr`: SymStore's "store a pointer" entry. Its text is `PATH:<where the file is>` or
 * `MSG:<a message for the user>` (SymStore /p; the SymSrv docs: "Symbol Store Folder Tree").
 */
export type Pointer = { type: 'path'; target: string } | { type: 'message'; text: string } | { type: 'invalid'; text: string };

export function parsePointer(text: string): Pointer {
  const line = text.replace(/^\ufeff/, '').split(/\r?\n/)[0]!.trim();
  const m = /^(PATH|MSG):(.*)$/i.exec(line);
  if (!m) return { type: 'invalid', text: line.slice(0, 200) };
  const value = m[2]!.trim();
  if (m[1]!.toUpperCase() === 'MSG') return { type: 'message', text: value };
  if (!value) return { type: 'invalid', text: line.slice(0, 200) };
  return { type: 'path', target: value };
}

export function isUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/** The most a `file.ptr` may hold; a larger answer is not a pointer. */
export const POINTER_LIMIT = 64 * 1024;
