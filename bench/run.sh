#!/usr/bin/env bash
# `npm run bench`: symsrv against curl on a real nginx, on tmpfs (bench/bench.ts), then through the
# authenticating-proxy rig (bench/proxy.ts, via bench/proxy-run.sh; needs root).
# Arguments pass through: `npm run bench -- small` runs only the 200-small-files scenario,
# `-- big` only the 1 GiB one, `-- proxy` only the proxy benchmark, `-- wan` the proxy benchmark
# behind a latency relay (bench/wan.ts), `-- startup` the start-up times (bench/startup.ts, needs hyperfine); they
# combine (`-- small proxy`). `wan` and `startup` run only when named.
# Environment: BENCH_ROUNDS (3), BENCH_SMALL_FILES (200), BENCH_SMALL_PAD_KIB (64), BENCH_BIG_MIB (1024),
# BENCH_TMPFS (/dev/shm); for the proxy part see bench/proxy-run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
proxy=0
wan=0
startup=0
direct=()
for a in "$@"; do
  case "$a" in
    proxy) proxy=1 ;;
    wan) wan=1 ;;
    startup) startup=1 ;;
    *) direct+=("$a") ;;
  esac
done
[ $# -eq 0 ] && proxy=1
rc=0
if [ $# -eq 0 ] || [ ${#direct[@]} -gt 0 ]; then
  node dist/bench/bench.js run ${direct[@]+"${direct[@]}"} || rc=$?
  [ "$rc" -ge 128 ] && exit "$rc" # Ctrl-C (130): stop here, do not start the proxy part
fi
if [ "$proxy" = 1 ]; then
  bash bench/proxy-run.sh --no-build || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }
fi
if [ "$wan" = 1 ]; then
  bash bench/proxy-run.sh --no-build wan || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }
fi
if [ "$startup" = 1 ]; then
  # The start-up part's one need: hyperfine (the tests do not use it).
  if ! command -v hyperfine >/dev/null && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends hyperfine >/dev/null
  fi
  node dist/bench/startup.js run || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }
fi
exit "$rc"
