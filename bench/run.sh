#!/usr/bin/env bash
# `npm run bench`: symsrv against curl on a real nginx, on tmpfs. See bench/bench.ts.
# Arguments pass through: `npm run bench -- small` runs only the 200-small-files scenario,
# `-- big` only the 1 GiB one. Environment: BENCH_ROUNDS (3), BENCH_SMALL_FILES (200),
# BENCH_SMALL_PAD_KIB (64), BENCH_BIG_MIB (1024), BENCH_TMPFS (/dev/shm).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p .
exec node dist/bench/bench.js run "$@"
