#!/usr/bin/env bash
# `npm run bench`: symsrv against curl on a real nginx, on tmpfs (bench/bench.ts), then through the
# authenticating-proxy rig (bench/proxy.ts, via bench/proxy-run.sh; needs root).
# Parts, which combine (`npm run bench -- small proxy`):
#   small, big   the 200-small-files / 1 GiB scenarios of bench/bench.ts
#   proxy        200 files through each squid of the rig (bench/proxy.ts)
#   cab          CAB expansion (MSZIP, LZX) against cabextract (bench/cab.ts; BENCH_CAB_MIB, 300)
#   wan          the proxy benchmark behind a latency relay (bench/wan.ts)      } only when named
#   startup      start-up times (bench/startup.ts, needs hyperfine)            }
#   serve        symsrv serve against nginx with wrk (bench/serve.ts)          }
# With no part: small, big, proxy and cab.
# Environment: BENCH_ROUNDS (3), BENCH_SMALL_FILES (200), BENCH_SMALL_PAD_KIB (64), BENCH_BIG_MIB (1024),
# BENCH_TMPFS (/dev/shm); for the proxy part see bench/proxy-run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
proxy=0
cab=0
wan=0
startup=0
serve=0
direct=()
for a in "$@"; do
  case "$a" in
    proxy) proxy=1 ;;
    cab) cab=1 ;;
    wan) wan=1 ;;
    startup) startup=1 ;;
    serve) serve=1 ;;
    *) direct+=("$a") ;;
  esac
done
[ $# -eq 0 ] && proxy=1 && cab=1
rc=0
# Every part records its headline figures here (bench/summary.ts); printed as one table at the end.
export BENCH_SUMMARY="${BENCH_SUMMARY:-$(mktemp -t symsrv-bench-summary.XXXXXX)}"
keep() { local r=$1; [ "$rc" -ne 0 ] || rc=$r; [ "$r" -ge 128 ] && exit "$r"; return 0; } # Ctrl-C (130): stop here
if [ $# -eq 0 ] || [ ${#direct[@]} -gt 0 ]; then
  node dist/bench/bench.js run ${direct[@]+"${direct[@]}"} || keep $?
fi
if [ "$cab" = 1 ]; then node dist/bench/cab.js run || keep $?; fi
if [ "$proxy" = 1 ]; then bash bench/proxy-run.sh --no-build || keep $?; fi
if [ "$wan" = 1 ]; then bash bench/proxy-run.sh --no-build wan || keep $?; fi
if [ "$startup" = 1 ]; then
  # The start-up part's one need: hyperfine (the tests do not use it).
  if ! command -v hyperfine >/dev/null && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends hyperfine >/dev/null
  fi
  node dist/bench/startup.js run || keep $?
fi
if [ "$serve" = 1 ]; then node dist/bench/serve.js || keep $?; fi
node dist/bench/summary.js print "$BENCH_SUMMARY"
exit "$rc"
