// `npm run build`, second step: bundles the CLI (dist/src/cli/main.js, just built by tsc) into
// dist/bin/symsrv.js, the `symsrv` command that package.json's "bin" names.
//
// Why: Node 20 loads ES modules one file at a time (resolve, read, compile, link). symsrv's
// fetch path is ~55 files, and loading them cost ~40 ms of CPU per run, longer than Node's own
// start-up and, for a handful of symbols, longer than the downloads (measured: 1-file fetch
// 97 ms of CPU unbundled, 49 ms bundled). The library (dist/src/index.js) stays unbundled.
//
// The commands stay lazily loaded (code splitting keeps each `import()` a chunk). Native and
// WebAssembly packages stay outside: kerberos (a .node file), pac-resolver and quickjs-wasi (a
// .wasm file found next to the module), js-md4 (loaded with createRequire at first use).
//
// Start-up (issue 16, target 3; `npm run bench -- startup`): main.ts imports commander lazily so
// that `--version` loads no more than the entry chunk, and commander's `require('node:child_process')`
// is deferred (below): commander spawns processes only for executable subcommands, which symsrv
// has none of, and child_process drags in net, dgram and stream: ~2% of a bare Node start-up.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';

const outdir = new URL('../dist/bin/', import.meta.url).pathname;

/** commander's `require('node:child_process')` becomes an object that loads it on first use. */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "let cp; module.exports = { spawn: (...a) => (cp ??= require('node:child_process')).spawn(...a) };",
      loader: 'js',
    }));
  },
};

/**
 * src/version.ts reads package.json at start-up, trying the folders above it (a failed read each,
 * ~3% of `symsrv key`'s extra cost); the bundle ships beside that same package.json, so its
 * version is read here once, at build time, and the module becomes two constants.
 */
const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
const inlineVersion = {
  name: 'inline-version',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/]version\.js$/ }, () => ({
      contents: `export const VERSION = ${JSON.stringify(pkg.version)};\nexport const USER_AGENT = ${JSON.stringify(`symsrv/${pkg.version}`)};\n`,
      loader: 'js',
    }));
  },
};

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { symsrv: new URL('../dist/src/cli/main.js', import.meta.url).pathname },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  external: ['kerberos', 'pac-resolver', 'quickjs-wasi', 'js-md4'],
  // commander and cli-progress are CommonJS and require() Node's modules: an ES module bundle
  // needs a real `require` for that.
  banner: { js: "import { createRequire as __symsrvRequire } from 'node:module';\nconst require = __symsrvRequire(import.meta.url);" },
  plugins: [lazyChildProcess, inlineVersion],
  sourcemap: 'linked',
  logLevel: 'warning',
});
