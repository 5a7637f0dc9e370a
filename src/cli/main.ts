#!/usr/bin/env node
import type { Command } from 'commander';
import { SymsrvError } from '../errors.js';
import { VERSION } from '../version.js';
import { EXIT_INTERNAL, EXIT_USAGE, ExitError } from './exit.js';
import { warn } from './output.js';

type Commander = typeof import('commander');

/**
 * The command table. Each command's code is its own module, loaded only when that command runs
 * (so `symsrv key` does not load the HTTP stack). commander itself is loaded here, not at the top
 * of this module: it is a third of a bare start-up's extra cost, and `--version` does without it.
 */
function program({ Command, Option }: Commander): Command {
  const p = new Command('symsrv')
    .description('Find and download debug symbols (PDB, PE, ELF debug files) from symbol servers, SymSrv-compatible.')
    .version(VERSION)
    // Program options only before the command: `symsrv add --version V` is add's (symstore /v), not ours.
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();

  p.command('key')
    .description('print the symbol store keys of files (PE, PDB, ELF, Mach-O; a crash dump: all its modules)')
    .argument('<file...>', 'files to read')
    .option('--json', 'print a JSON array of {file, kind, key}')
    .action(async (files: string[], opts: { json?: boolean }) => (await import('./commands/key.js')).run(files, opts));

  p.command('path')
    .description('explain a symbol path element by element (default: _NT_SYMBOL_PATH, else the .symfix path)')
    .argument('[sympath]', 'a symbol path, e.g. "srv*C:\\sym*https://msdl.microsoft.com/download/symbols"')
    .option('--json', 'print JSON')
    .option('--proxy <host:port>', 'explain with this HTTP proxy')
    .option('--no-proxy', 'explain with no proxy')
    .option('--pac <url|file>', 'explain with this PAC file')
    .action(async (sympath: string | undefined, opts) => (await import('./commands/path.js')).run(sympath, opts));

  withProxyOptions(p.command('fetch'))
    .description('download the symbols of binaries, PDBs, crash dumps, folders or keys')
    .argument('[target...]', 'binaries, PDBs, crash dumps or folders')
    .option('-y, --sympath <path>', 'symbol path (default: _NT_SYMBOL_PATH, else the .symfix path)')
    .option('-r, --recursive', 'look into folders recursively')
    .option('--key <key>', 'fetch a key as printed by `symsrv key` (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--images', 'also fetch the binaries themselves, not only their symbol files')
    .option('--out <dir>', 'copy each file found into this folder')
    .addOption(new Option('-j, --jobs <n>', 'downloads at a time').default(8).argParser(positiveInt('--jobs')))
    .option('--json', 'print a JSON array of {key, status, path, store, error}')
    .option('-v, --verbose', 'print every probe (store, URL, status) on stderr')
    .option('--cacert <file>', 'trust this CA certificate (PEM) besides the system ones')
    .addOption(new Option('--connect-timeout <s>', 'connect timeout in seconds').argParser(positiveNumber('--connect-timeout')))
    .addOption(new Option('--timeout <s>', 'idle timeout while waiting for data, in seconds').argParser(positiveNumber('--timeout')))
    .addOption(new Option('--retries <n>', 'retries on network errors and 5xx').argParser(nonNegativeInt('--retries')))
    .addOption(new Option('--max-size <bytes>', 'the most one download may write (K, M, G suffixes; default 16G)').argParser(byteSize('--max-size')))
    .option('--prompts', 'ask for proxy credentials on a 407 (default: only when interactive; SYMSRV_PROMPTS=1|0)')
    .option('--no-prompts', 'never ask for credentials')
    .action(async (targets: string[], opts) => (await import('./commands/fetch.js')).run(targets, opts));

  p.command('add')
    .description('store PE images, PDBs and ELF files in a symbol store under their keys, as symstore add does')
    .argument('<file...>', 'files or folders to add')
    .requiredOption('--store <dir>', 'the symbol store (created when missing; three-tier when it has index2.txt)')
    .option('-r, --recursive', 'add the files of folders recursively')
    .option('--compress', 'store MSZIP cabinets (name.pd_), as symstore /compress')
    .option('--pointer', 'store file.ptr pointing at each file instead of a copy, as symstore /p')
    .option('--product <name>', 'product name recorded with the transaction (symstore /t)')
    .option('--version <version>', 'version recorded with the transaction (symstore /v)')
    .option('--comment <text>', 'comment recorded with the transaction (symstore /c)')
    .option('--json', 'print JSON')
    .action(async (files: string[], opts) => (await import('./commands/add.js')).run(files, opts));

  p.command('del')
    .description('delete a transaction from a symbol store: exactly what it added, as symstore del does')
    .argument('<id>', 'the transaction id (as in 000Admin/server.txt)')
    .requiredOption('--store <dir>', 'the symbol store')
    .option('--json', 'print JSON')
    .action(async (id: string, opts) => (await import('./commands/del.js')).run(id, opts));

  withProxyOptions(p.command('shell'))
    .description('a WinDbg/cdb-style console: load binaries, then .sympath, .reload, lm, ld, !sym noisy (.help lists the commands)')
    .argument('[target...]', 'binaries, folders of binaries (not recursive), or crash dumps')
    .option('-y, --sympath <path>', 'symbol path (default: _NT_SYMBOL_PATH, else the .symfix path)')
    .action(async (targets: string[], opts) => (await import('./commands/shell.js')).run(targets, opts));

  withProxyOptions(p.command('serve'))
    .description('serve the symbol path over HTTP (SymSrv keys, SSQP, debuginfod): one authenticated way out for every debugger')
    .option('-y, --sympath <path>', 'symbol path to serve (default: _NT_SYMBOL_PATH, else the .symfix path)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8080')
    .addOption(new Option('--negative-ttl <s>', 'seconds a miss is remembered').default(3600).argParser(nonNegativeInt('--negative-ttl')))
    .option('--token-file <file>', 'require "Authorization: Bearer TOKEN" (the token in this 0600 file)')
    .option('--users <file>', 'require Basic authentication against this htpasswd file (bcrypt or {SHA}, mode 0600)')
    .option('--cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--key <file>', 'the certificate\'s private key (PEM, mode 0600)')
    .option('--credentials <file>', 'upstream proxy credentials: user on line 1, password on line 2 (mode 0600)')
    .option('--access-log <file>', 'append the access log here (default: stderr)')
    .option('--cacert <file>', 'trust this CA certificate (PEM) upstream besides the system ones')
    .addOption(new Option('--connect-timeout <s>', 'upstream connect timeout in seconds').argParser(positiveNumber('--connect-timeout')))
    .addOption(new Option('--timeout <s>', 'upstream idle timeout in seconds').argParser(positiveNumber('--timeout')))
    .addOption(new Option('--retries <n>', 'upstream retries on network errors and 5xx').argParser(nonNegativeInt('--retries')))
    .action(async (opts) => (await import('./commands/serve.js')).run(opts));

  return p;
}

/** The proxy options `fetch` and `shell` share (`path` has its own wording: "explain with ..."). */
function withProxyOptions(cmd: Command): Command {
  return cmd
    .option('--proxy <host:port>', 'use this HTTP proxy (like SSRVOPT_PROXY; default: _NT_SYMBOL_PROXY, then the system settings)')
    .option('--no-proxy', 'connect directly, whatever the environment says')
    .option('--pac <url|file>', 'choose proxies with this PAC file')
    .option('--proxy-user <user>', 'proxy user (DOMAIN\\user or user@REALM); the password comes from SYMSRV_PROXY_PASSWORD')
    .option('--proxy-auth <list>', 'proxy authentication schemes to use, in order (negotiate,ntlm,digest,basic)');
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new SymsrvError('E_USAGE', `${name} takes a whole number >= 1, not "${v}"`);
    return n;
  };
}
function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new SymsrvError('E_USAGE', `${name} takes a whole number >= 0, not "${v}"`);
    return n;
  };
}
/** `1048576`, `512K`, `64M`, `16G` (powers of 1024). */
function byteSize(name: string) {
  return (v: string): number => {
    const m = /^(\d+)([KMGT]?)i?B?$/i.exec(v.trim());
    const n = m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new SymsrvError('E_USAGE', `${name} takes a size such as 500M or 16G, not "${v}"`);
    return n;
  };
}
function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new SymsrvError('E_USAGE', `${name} takes a number > 0, not "${v}"`);
    return n;
  };
}

export async function main(argv: string[]): Promise<number> {
  // `symsrv --version` alone is answered before commander loads, exactly as commander would
  // (`.version(VERSION)`: flags -V, --version; the version and a newline on stdout; exit 0).
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  // `symsrv key dump.dmp | head`: the reader went away; stop quietly, as other Unix tools do
  // (not an unhandled 'error' event with a stack trace).
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode));
    throw err;
  });
  let commander: Commander | undefined;
  try {
    commander = await import('commander');
    await program(commander).parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof ExitError) {
      if (err.message) warn(err.message);
      return err.exitCode;
    }
    if (commander && err instanceof commander.CommanderError) {
      // help and version end with code 0; commander has already printed its message
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof SymsrvError) {
      warn(err.message);
      return EXIT_USAGE;
    }
    // A bug of ours: say so plainly; the stack only when asked for (SYMSRV_DEBUG=1).
    warn(`internal error: ${(err as Error)?.message ?? String(err)}`);
    if (process.env.SYMSRV_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    else warn('this is a bug in symsrv; please report it (SYMSRV_DEBUG=1 prints the details)');
    return EXIT_INTERNAL;
  }
}

const code = await main(process.argv.slice(2));
// Let stdout drain before exiting: a piped `--json` of many keys must not be cut short.
process.exitCode = code;
