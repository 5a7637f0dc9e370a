/**
 * symsrv's public API: everything a library user needs, and nothing else.
 */
export { SymbolClient, type SymbolClientOptions, type FindOptions, type FindResult } from './client.js';
export { SymsrvError, ErrorCodes, isSymsrvError, type ErrorCode } from './errors.js';
export { computeKeys, dumpModulesOf, type ComputedKey } from './keys/compute.js';
export type { DumpModuleKeys } from './keys/minidump.js';
export {
  parseKey,
  peKey,
  pdbKey,
  pdbNb10Key,
  portablePdbKey,
  elfKey,
  elfDebugKey,
  machoKey,
  machoDsymKey,
  debuginfodPath,
  type SymbolKey,
  type KeyKind,
  type Identity,
} from './keys/key.js';
export { parseSymbolPath, type SymbolPath, type SymbolPathElement, type StoreSpec } from './symbolpath/parse.js';
export { defaultDownstreamStore, symfixPath, symbolPathFromEnv, MICROSOFT_SYMBOL_SERVER } from './symbolpath/defaults.js';
export { Transport, type HttpResponse, type GetOptions } from './transport/transport.js';
export type { TransportOptions, ProxyOptions } from './transport/options.js';
export type { ProxyChoice, ProxyResolver, ProxySource } from './transport/select/select.js';
export type { SchemeName } from './transport/auth/types.js';
export type { CredentialPrompt, CredentialRequest } from './prompts/types.js';
export type { ProbeEvent, Store, WritableStore, LookupContext, LookupResult } from './store/types.js';
