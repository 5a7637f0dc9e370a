/**
 * Whether to ask for credentials at all. As in cdb and ntsd, prompts are off unless a person is
 * there to answer: stdin and stderr are terminals, not CI, not machine output (`--json`).
 * `SYMSRV_PROMPTS=1|0` overrides that, and an explicit `--prompts` / `--no-prompts` overrides both.
 */
export function promptsWanted(o: {
  flag?: boolean | undefined;
  json?: boolean | undefined;
  env?: NodeJS.ProcessEnv;
  stdinTTY?: boolean;
  stderrTTY?: boolean;
}): boolean {
  if (o.flag !== undefined) return o.flag;
  const env = o.env ?? process.env;
  const forced = env.SYMSRV_PROMPTS;
  if (forced === '1' || forced === '0') return forced === '1';
  if (o.json) return false;
  if (env.CI && env.CI !== 'false' && env.CI !== '0') return false;
  return Boolean(o.stdinTTY ?? process.stdin.isTTY) && Boolean(o.stderrTTY ?? process.stderr.isTTY);
}
