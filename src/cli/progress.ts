import cliProgress from 'cli-progress';

/** Progress on stderr, only when stderr is a terminal: scripts and logs get silence. */
export interface Progress {
  fileDone(): void;
  bytes(n: number): void;
  stop(): void;
}

const silent: Progress = { fileDone() {}, bytes() {}, stop() {} };

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function startProgress(total: number, enabled = Boolean(process.stderr.isTTY)): Progress {
  if (!enabled || total === 0) return silent;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'fetch [{bar}] {value}/{total} files | {received} | {speed}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let received = 0;
  let done = 0;
  bar.start(total, 0, { received: human(0), speed: '' });
  const payload = () => {
    const secs = (Date.now() - started) / 1000;
    return { received: human(received), speed: secs > 0.5 ? `${human(received / secs)}/s` : '' };
  };
  return {
    fileDone() {
      done++;
      bar.update(done, payload());
    },
    bytes(n) {
      received += n;
      bar.update(done, payload());
    },
    stop() {
      bar.stop();
    },
  };
}
