import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isSymsrvError } from '../../errors.js';
import { CORP_PAC, MSDL, rejectsWith } from '../../../test/helpers/pac.js';
import { PacScript, pacRequestUrl } from './pac.js';

/** Records unhandled rejections while `fn` runs: a PAC script must never cause one. */
async function noUnhandledRejection(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await fn();
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off('unhandledRejection', listener);
  }
  assert.deepEqual(seen, []);
}

describe('pacRequestUrl: what the script is shown', () => {
  const cases: [string, string][] = [
    [MSDL.href, 'https://msdl.microsoft.com/'],
    ['https://user:secret@symbols.corp.example/sym/a.pdb/X/a.pdb?token=abc#frag', 'https://symbols.corp.example/'],
    ['http://symbols.corp.example:8080/a', 'http://symbols.corp.example:8080/'],
    ['http://symbols.corp.example:80/a', 'http://symbols.corp.example/'],
    ['http://[::1]:8080/x', 'http://[::1]:8080/'],
  ];
  for (const [target, shown] of cases) {
    test(`${target} -> ${shown}`, () => assert.equal(pacRequestUrl(new URL(target)), shown));
  }
});

describe('PacScript: a real PAC file', () => {
  let script: PacScript;
  before(async () => {
    script = await PacScript.create(CORP_PAC, { name: 'corp.pac' });
  });
  after(() => script.dispose());

  const cases: [target: string, answer: string][] = [
    [MSDL.href, 'PROXY a.corp.example:1; PROXY b.corp.example:2; DIRECT'],
    ['http://msdl.microsoft.com/download/symbols/', 'PROXY web.corp.example:3128'],
    ['https://symbols.corp.example/symbols/', 'DIRECT'],
    ['https://corp.example/symbols/', 'DIRECT'],
    ['http://symbols/', 'DIRECT'],
    ['http://10.1.2.3:8080/symbols/', 'DIRECT'],
    ['http://192.168.1.1/symbols/', 'PROXY web.corp.example:3128'],
    ['https://symbols.nuget.org/download/symbols/', 'PROXY a.corp.example:1'],
  ];
  for (const [target, answer] of cases) {
    test(`${target} -> ${answer}`, async () => assert.equal(await script.findProxy(new URL(target)), answer));
  }

  test('calls made together all get their own answer', async () => {
    const answers = await Promise.all(cases.map(([target]) => script.findProxy(new URL(target))));
    assert.deepEqual(
      answers,
      cases.map(([, answer]) => answer),
    );
  });
});

describe('PacScript: what the script sees', () => {
  test('scheme://host[:port]/ and the host name: no credentials, path, query', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { return url + " " + host; }');
    try {
      assert.equal(
        await script.findProxy(new URL('https://user:secret@msdl.microsoft.com/download/symbols/a.pdb/X/a.pdb?q=1')),
        'https://msdl.microsoft.com/ msdl.microsoft.com',
      );
      assert.equal(await script.findProxy(new URL('http://[::1]:8080/x')), 'http://[::1]:8080/ ::1');
    } finally {
      script.dispose();
    }
  });

  test('alert() goes to onAlert, never to stdout', async () => {
    const alerts: string[] = [];
    const script = await PacScript.create('function FindProxyForURL(url, host) { alert("checking " + host); return "DIRECT"; }', {
      onAlert: (m) => alerts.push(m),
    });
    try {
      assert.equal(await script.findProxy(MSDL), 'DIRECT');
      assert.deepEqual(alerts, ['checking msdl.microsoft.com']);
    } finally {
      script.dispose();
    }
  });

  test('myIpAddress() and dnsResolve() of an IP literal answer without the network', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { return myIpAddress() + " " + dnsResolve("10.9.8.7"); }');
    try {
      const [ip, resolved] = (await script.findProxy(MSDL)).split(' ');
      assert.match(ip ?? '', /^\d+\.\d+\.\d+\.\d+$/);
      assert.equal(resolved, '10.9.8.7');
    } finally {
      script.dispose();
    }
  });

  test('extra sandbox functions, sync and async', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { return "PROXY " + pick(host) + ":" + later(8080); }', {
      sandbox: {
        pick: (host: string) => (host.endsWith('.microsoft.com') ? 'ms' : 'other'),
        later: async (port: number) => port + 1,
      },
    });
    try {
      assert.equal(await script.findProxy(MSDL), 'PROXY ms:8081');
    } finally {
      script.dispose();
    }
  });
});

describe('PacScript: bad scripts fail cleanly (E_PROXY naming the file), never hang', () => {
  const limits = { name: 'bad.pac', timeoutMs: 3_000, cpuTimeoutMs: 200 };

  test('a script that throws', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { throw new TypeError("no proxy for " + host); }', limits);
    await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /^the PAC file bad\.pac failed for msdl\.microsoft\.com: TypeError: no proxy for msdl\.microsoft\.com$/);
    script.dispose();
  });

  test('an error of its own that says "interrupted" is not taken for a timeout', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { throw new Error("interrupted by policy"); }', limits);
    await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /failed for msdl\.microsoft\.com: interrupted by policy$/);
    script.dispose();
  });

  test('a script that loops is interrupted, and the VM still answers other hosts', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { if (host == "msdl.microsoft.com") { while (true) {} } return "DIRECT"; }', limits);
    const started = performance.now();
    await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /ran for more than 200 ms without stopping and was interrupted/);
    assert.ok(performance.now() - started < 2_000, 'stopped by the interrupt handler, not by the call timeout');
    assert.equal(await script.findProxy(new URL('https://symbols.nuget.org/')), 'DIRECT');
    script.dispose();
  });

  test('a script that loops at load time', async () => {
    await rejectsWith(PacScript.create('while (true) {}\nfunction FindProxyForURL(url, host) { return "DIRECT"; }', limits), 'E_PROXY', /bad\.pac cannot be used: .*interrupted/);
  });

  test('a script that loops after a DNS call (resumed from a host callback): no unhandled rejection', async () => {
    await noUnhandledRejection(async () => {
      const script = await PacScript.create('function FindProxyForURL(url, host) { var ip = dnsResolve("127.0.0.1"); while (true) {} }', limits);
      await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /interrupted/);
      script.dispose();
    });
  });

  // Regression: a script looping on host calls ran on microtasks alone, so the call timer never
  // fired and the interrupt handler's checks came too far apart for the run limit; under node:test
  // (async hooks make each round trip slower) it ran ~60 s, until its heap was full.
  test('a script that loops on host calls stops by the call deadline, and nothing of it runs after', async () => {
    await noUnhandledRejection(async () => {
      let lookups = 0;
      const dnsResolve = async (host: string): Promise<string> => {
        lookups++;
        return host;
      };
      const script = await PacScript.create('function FindProxyForURL(url, host) { for (;;) { dnsResolve("127.0.0.1"); } }', {
        name: 'bad.pac',
        timeoutMs: 800,
        cpuTimeoutMs: 200,
        sandbox: { dnsResolve },
      });
      const started = performance.now();
      await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /interrupted|did not answer for msdl\.microsoft\.com within 800 ms/);
      assert.ok(performance.now() - started < 1_500, `stopped after ${Math.round(performance.now() - started)} ms`);
      const atFailure = lookups;
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(lookups, atFailure, 'no lookup after the failure');
      script.dispose();
    });
  });

  test('a script that eats memory hits the sandbox limit', async () => {
    await noUnhandledRejection(async () => {
      const script = await PacScript.create('function FindProxyForURL(url, host) { var a = []; while (true) a.push("xxxxxxxxxxxxxxxxxxxxxxxx" + a.length); }', {
        name: 'bad.pac',
        memoryLimit: 8 * 1024 * 1024,
        cpuTimeoutMs: 10_000,
        timeoutMs: 10_000,
      });
      await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /ran out of memory \(sandbox limit\)/);
      script.dispose();
    });
  });

  test('endless recursion', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { function f(n) { return f(n + 1) + 1; } return f(0); }', limits);
    // QuickJS's own stack check (RangeError) or, when the WebAssembly stack runs out first, a trap:
    // which comes first varies from run to run; either is an E_PROXY naming the file, and the VM is dropped.
    await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /^the PAC file bad\.pac failed for msdl\.microsoft\.com: (RangeError: Maximum call stack size exceeded|RuntimeError: memory access out of bounds)$/);
    script.dispose();
  });

  for (const [body, shown] of [
    ['return 42;', 'number 42'],
    ['return;', 'undefined'],
    ['return null;', 'null'],
    ['return ["PROXY a:1"];', 'an object'],
  ] as const) {
    test(`an answer that is not a string: ${body}`, async () => {
      const script = await PacScript.create(`function FindProxyForURL(url, host) { ${body} }`, limits);
      await rejectsWith(script.findProxy(MSDL), 'E_PROXY', new RegExp(`answered ${shown} for msdl\\.microsoft\\.com, not a string`));
      script.dispose();
    });
  }

  test('a syntax error', async () => {
    await rejectsWith(PacScript.create('function FindProxyForURL(url, host) { return "DIRECT" ', limits), 'E_PROXY', /^the PAC file bad\.pac cannot be used: /);
  });

  test('no FindProxyForURL', async () => {
    await rejectsWith(PacScript.create('function findProxyForUrl(url, host) { return "DIRECT"; }', limits), 'E_PROXY', /bad\.pac cannot be used: .*FindProxyForURL/);
  });

  test('a call that waits too long is given up, the script frozen, and the next call runs on a fresh VM', async () => {
    let sleeps = 0;
    const sleep = async (ms: number): Promise<void> => {
      sleeps++;
      await new Promise((resolve) => setTimeout(resolve, ms).unref());
    };
    // Sleeps 150 ms per round, forever: never a long run of code, so only the call timeout stops it.
    const script = await PacScript.create(
      'function FindProxyForURL(url, host) { if (host == "slow.example") { for (;;) { sleep(150); } } return "DIRECT"; }',
      { name: 'slow.pac', timeoutMs: 400, cpuTimeoutMs: 200, sandbox: { sleep } },
    );
    await rejectsWith(script.findProxy(new URL('https://slow.example/')), 'E_PROXY', /^the PAC file slow\.pac did not answer for slow\.example within 400 ms$/);
    const atTimeout = sleeps;
    assert.equal(await script.findProxy(MSDL), 'DIRECT');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(sleeps <= atTimeout + 1, `the abandoned script stopped (sleep calls: ${atTimeout} at the timeout, ${sleeps} later)`);
    script.dispose();
  });

  test('a disposed script refuses calls (a bug of the caller, not bad input)', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { return "DIRECT"; }');
    script.dispose();
    await assert.rejects(script.findProxy(MSDL), (err: unknown) => err instanceof Error && !isSymsrvError(err));
  });
});


/** Regressions of issue 14 defect 7: the sandbox's limits must hold against a hostile PAC file. */
describe('PacScript: hostile scripts stay inside the limits', () => {
  // Allocation-heavy loops: each garbage collection left a gap between two calls of the interrupt
  // handler, which was taken for the VM waiting, so the run-time limit never fired and the loop
  // ran to the call deadline.
  for (const [what, body] of [
    ['an array of arrays', 'var a = []; while (true) { a.push([1, 2, 3, 4, 5, 6, 7, 8]); }'],
    ['short-lived objects and strings', 'var n = 0; while (true) { var o = { a: n++ }; var s = String(n) + "abc"; }'],
    ['a growing array of strings', 'var a = []; for (;;) a.push("abcdefgh" + a.length);'],
  ] as const) {
    test(`an allocation-heavy loop (${what}) is stopped by the run-time limit, not the call deadline`, async () => {
      // The default run-time limit (2 s) and room enough in the heap that only it can stop the loop.
      const script = await PacScript.create(`function FindProxyForURL(url, host) { ${body} }`, { name: 'hostile.pac', timeoutMs: 15_000, memoryLimit: 256 * 1024 * 1024 });
      await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /^the PAC file hostile\.pac failed for msdl\.microsoft\.com: the script ran for more than 2000 ms without stopping and was interrupted$/);
      script.dispose();
    });
  }

  test('memory growth is bounded: repeated failing calls (a fresh VM each) keep the RSS within a few hundred MB', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { var a = []; for (;;) a.push({ x: a.length, s: "y" + a.length }); }', {
      name: 'hostile.pac',
      timeoutMs: 60_000,
      cpuTimeoutMs: 60_000,
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      for (let i = 0; i < 4; i++) {
        await rejectsWith(script.findProxy(new URL(`https://h${i}.example/`)), 'E_PROXY', /ran out of memory \(sandbox limit\)/);
      }
    } finally {
      clearInterval(sample);
      script.dispose();
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.ok(peak - before < 512 * 1024 * 1024, `RSS grew by ${Math.round((peak - before) / 1048576)} MiB`);
  });

  test('an answer of 100 000 characters is refused (E_PROXY), never parsed', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { return new Array(100001).join("x"); }', { name: 'hostile.pac' });
    await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /^the PAC file hostile\.pac answered 100000 characters for msdl\.microsoft\.com, more than the 65536 /);
    script.dispose();
  });

  test('an answer of 20 MiB built in the sandbox is refused too', async () => {
    const script = await PacScript.create('function FindProxyForURL(url, host) { var s = "PROXY a:1;"; while (s.length < 20 * 1024 * 1024) s += s; return s; }', {
      name: 'hostile.pac',
      memoryLimit: 64 * 1024 * 1024,
    });
    await rejectsWith(script.findProxy(MSDL), 'E_PROXY', /hostile\.pac (answered \d+ characters|failed for msdl\.microsoft\.com: the script ran out of memory)/);
    script.dispose();
  });
});
