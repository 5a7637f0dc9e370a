import type { ImpliedStore, StoreSpec, SymbolPath, SymbolPathElement } from './parse.js';
import { maskUserinfo } from '../redact.js';

/**
 * What `symsrv path` prints: one plain, JSON-serialisable record per symbol path element, and
 * the human-readable form of the same records. The behaviour described is SymSrv's
 * (docs/symbolpath.md): a chain is searched left to right and a file found in a store is copied
 * to every store before it; a `cache*` folder also receives files found by later elements.
 */

export interface ExplainedStore {
  kind: 'local' | 'http' | 'debuginfod';
  /** The folder, share or URL. */
  location: string;
  /** True for the default downstream store (an empty token, `cache*` alone, or added). */
  isDefault: boolean;
}

export interface ExplainedElement {
  /** 1-based position in the path. */
  index: number;
  type: SymbolPathElement['type'];
  /** The element as written (trimmed). */
  text: string;
  /** Stores searched before the upstream one, nearest first; files found further up are copied to them. */
  downstream: ExplainedStore[];
  /** The store searched last (a chain's upstream store, a folder, a cache folder); null when unsupported. */
  upstream: ExplainedStore | null;
  /** Folders from a preceding `cache*` that also receive files this element finds. */
  caches: ExplainedStore[];
  /** Stores the parser added that the text does not spell out. */
  implied: ImpliedStore[];
  /** Why the element is skipped (unsupported elements only). */
  reason?: string;
  /** One sentence saying what the element does. */
  summary: string;
}

export function explainSymbolPath(p: SymbolPath): ExplainedElement[] {
  return p.elements.map((element, i) => masked(explainElement(element, i + 1)));
}

/**
 * Every text of an explanation with URL userinfo masked: the summary and the reason name stores
 * too (`https://user:pw@host is an HTTP store that ...`), and all of it reaches the screen and
 * `--json`.
 */
function masked(e: ExplainedElement): ExplainedElement {
  const store = (s: ExplainedStore): ExplainedStore => ({ ...s, location: maskUserinfo(s.location) });
  return {
    ...e,
    text: maskUserinfo(e.text),
    summary: maskUserinfo(e.summary),
    ...(e.reason !== undefined ? { reason: maskUserinfo(e.reason) } : {}),
    downstream: e.downstream.map(store),
    upstream: e.upstream && store(e.upstream),
    caches: e.caches.map(store),
  };
}

/** Numbered lines: the element as written, then what it does, indented. */
export function formatExplanation(items: readonly ExplainedElement[]): string {
  if (items.length === 0) return 'The symbol path is empty: no store is searched.';
  return items.map((item) => `${item.index}. ${item.text}\n   ${item.summary}`).join('\n');
}

function explainElement(element: SymbolPathElement, index: number): ExplainedElement {
  switch (element.type) {
    case 'folder': {
      const upstream: ExplainedStore = { kind: 'local', location: element.path, isDefault: false };
      const caches = element.caches.map(explainStore);
      const summary = `folder: looks in ${element.path}` + copiedTo(caches, 'files found here are copied to the cache');
      return { index, type: 'folder', text: maskUserinfo(element.text), downstream: [], upstream, caches, implied: [], summary };
    }
    case 'srv': {
      const stores = element.stores.map(explainStore);
      const upstream = stores[stores.length - 1] ?? null;
      const downstream = stores.slice(0, -1);
      const caches = element.caches.map(explainStore);
      let summary = `symbol server: looks in ${stores.map(name).join(', then ')}`;
      if (downstream.length > 0) {
        summary += `; files found upstream are copied to ${joinAnd(downstream.map(plain))}`;
        if (caches.length > 0) summary += `, and to the cache ${joinAnd(caches.map(name))}`;
      } else {
        summary += copiedTo(caches, 'files found are copied to the cache') || ' (files are opened where they are)';
      }
      summary += impliedNote(element.implied);
      return { index, type: 'srv', text: maskUserinfo(element.text), downstream, upstream, caches, implied: element.implied, summary };
    }
    case 'cache': {
      const store = explainStore(element.store);
      const summary = `cache: looks in ${name(store)}; files found by the elements after it are copied here`;
      return { index, type: 'cache', text: maskUserinfo(element.text), downstream: [], upstream: store, caches: [], implied: [], summary };
    }
    case 'unsupported':
      return {
        index,
        type: 'unsupported',
        text: maskUserinfo(element.text),
        downstream: [],
        upstream: null,
        caches: [],
        implied: [],
        reason: element.reason,
        summary: `skipped: ${element.reason}`,
      };
  }
}

function explainStore(store: StoreSpec): ExplainedStore {
  return store.kind === 'local'
    ? { kind: 'local', location: store.path, isDefault: store.isDefault }
    : { kind: store.kind, location: maskUserinfo(store.url), isDefault: false };
}

function name(store: ExplainedStore): string {
  if (store.kind === 'debuginfod') return `the debuginfod server ${store.location}`;
  return store.isDefault ? `${store.location} (default downstream store)` : store.location;
}

/** A store named again after {@link name} already marked it. */
function plain(store: ExplainedStore): string {
  return store.location;
}

function copiedTo(caches: ExplainedStore[], lead: string): string {
  return caches.length === 0 ? '' : `; ${lead} ${joinAnd(caches.map(name))}`;
}

function joinAnd(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function impliedNote(implied: readonly ImpliedStore[]): string {
  const notes: string[] = [];
  if (implied.includes('microsoft-symbol-server')) {
    notes.push('srv* alone is the Microsoft public symbol server, as .symfix sets it');
  }
  if (implied.includes('default-downstream')) {
    notes.push('the default downstream store is added because a file cannot be opened from an HTTP store');
  }
  if (implied.includes('debuginfod-urls')) notes.push('the debuginfod servers are those of DEBUGINFOD_URLS');
  return notes.length === 0 ? '' : ` (${notes.join('; ')})`;
}
