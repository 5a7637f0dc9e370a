/** The `_NT_SYMBOL_PATH` grammar: parse, defaults, explain. Rules and sources: docs/symbolpath.md. */
export { parseSymbolPath, MAX_STORES } from './parse.js';
export type { ImpliedStore, ParseOptions, StoreSpec, SymbolPath, SymbolPathElement } from './parse.js';
export { defaultDownstreamStore, MICROSOFT_SYMBOL_SERVER, symbolPathFromEnv, symfixPath } from './defaults.js';
export { explainSymbolPath, formatExplanation } from './explain.js';
export type { ExplainedElement, ExplainedStore } from './explain.js';
