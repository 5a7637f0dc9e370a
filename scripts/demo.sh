#!/usr/bin/env bash
# `npm run demo`: the main job on an embedded default. Builds a small symbol store from the
# project's test binaries, serves it on 127.0.0.1 with a real HTTP server (Python's http.server),
# and fetches the PDBs of three Windows binaries through it with `symsrv fetch`, then again to
# show they now come from the local cache.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null
npm run --silent build

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

symsrv() { node dist/bin/symsrv.js "$@"; }

echo "== 1. a symbol store built from test/fixtures/pdb (keys by 'symsrv key')"
mkdir -p "$work/store"
symsrv key test/fixtures/pdb/*.pdb | while IFS=$'\t' read -r file kind key; do
  mkdir -p "$work/store/$(dirname "$key")"
  cp "$file" "$work/store/$key"
  echo "   $key"
done

echo "== 2. served by python3 -m http.server on 127.0.0.1"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/store" >"$work/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "the HTTP server did not start:"; cat "$work/server.log"; exit 1; }
sympath="srv*$work/cache*http://127.0.0.1:$port"
echo "   symbol path: $sympath"
symsrv path "$sympath" | sed 's/^/   /'

echo "== 3. symsrv fetch: the PDBs three binaries refer to (downloaded, checked, cached)"
symsrv fetch -y "$sympath" test/fixtures/pe/crash.exe test/fixtures/pe/CrashWithException.exe test/fixtures/pe/HelloWorld.exe

echo "== 4. again: now found in the local cache, no download"
symsrv fetch -y "$sympath" --json test/fixtures/pe/crash.exe | sed 's/^/   /'
echo "== done: $(grep -c '"GET ' "$work/server.log") GET requests reached the server"
