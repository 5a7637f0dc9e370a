#!/usr/bin/env bash
# `npm run bench -- proxy`: symsrv against curl through the authenticating-proxy rig (squid with
# Basic, Digest, NTLM, Negotiate; HTTP and HTTPS origins), outputs on tmpfs. See bench/proxy.ts.
# Needs root and test/rig/install.sh's packages. `--no-build` skips the build (bench/run.sh has
# just built); then `wan` runs bench/wan.ts (the same behind a latency relay; BENCH_WAN_MS (20),
# BENCH_WAN_BPS (no cap)) instead. Environment: BENCH_ROUNDS (3), BENCH_PROXY_FILES (200), BENCH_PROXY_FILE_KIB (64),
# BENCH_TMPFS (/dev/shm), BENCH_NODE_ARGS (extra node options for symsrv's runs).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --no-build ]; then
  shift
else
  [ -d node_modules ] || npm ci --no-audit --no-fund
  npm run --silent build
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench proxy: needs root (the rig runs squid and winbindd)" >&2
  exit 1
fi
script=proxy
if [ "${1:-}" = wan ]; then script=wan; shift; fi
exec node "dist/bench/$script.js" run "$@"
