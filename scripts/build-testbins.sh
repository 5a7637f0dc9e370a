#!/usr/bin/env bash
# scripts/build-testbins.sh OUTDIR
#
# Builds the project's test binaries from test/testbins/ into OUTDIR: real PE images with their
# PDBs (clang-14 in cl mode + lld-link-14, no Windows SDK or CRT; see
# /work/shared/notes/pe-pdb-with-clang.md) and a real ELF program split into a stripped binary
# and its debug file (gcc + objcopy):
#
#   hello64.exe hello64.pdb   x86_64 console program
#   hello32.exe hello32.pdb   i686 console program
#   lib64.dll   lib64.pdb     x86_64 DLL with two exports
#   lib32.dll   lib32.pdb     i686 DLL
#   alt64.exe   alt64.pdb     x86_64, linked with /pdbaltpath:%_PDB% (only the PDB's file name is recorded)
#   big8k.exe   big8k.pdb     x86_64, linked with /pdbpagesize:8192 (an MSF with 8 KiB pages)
#   elfdebug/prog             stripped x86_64 ELF with a SHA-1 GNU build-id and a .gnu_debuglink
#   elfdebug/prog.debug       its debug file (objcopy --only-keep-debug): same build-id, DWARF
#
# Idempotent: an output newer than its sources (and this script) is not built again. Images are
# linked with /Brepro, so the same sources in the same OUTDIR give the same keys every time
# (the PDB path recorded in an image is absolute, so another OUTDIR gives other GUIDs).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
missing=()
for tool in clang-14 lld-link-14 gcc objcopy; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-testbins: missing tools: ${missing[*]}" >&2
  echo "build-testbins: install them with: apt-get install -y --no-install-recommends clang-14 lld-14 gcc binutils" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
src="$here/../test/testbins"
mkdir -p "$1" "$1/obj" "$1/elfdebug"
out=$(cd "$1" && pwd)
self="$here/$(basename "$0")"

# stale OUT... -- IN...: true when an output is missing or older than an input.
stale() {
  local outs=() ins=() seen_sep=0 o i
  for a in "$@"; do
    if [ "$a" = "--" ]; then seen_sep=1; elif [ $seen_sep = 0 ]; then outs+=("$a"); else ins+=("$a"); fi
  done
  for o in "${outs[@]}"; do
    [ -e "$o" ] || return 0
    for i in "${ins[@]}"; do [ "$i" -nt "$o" ] && return 0; done
  done
  return 1
}

# pe NAME ARCH KIND SOURCE [extra link options...]
pe() {
  local name=$1 arch=$2 kind=$3 source=$4
  shift 4
  # Paths that start with "/" read as options to the cl driver and lld-link: inputs go after
  # "--" (clang) or relative to OUTDIR (lld-link).
  local target ext obj="obj/$name.obj"
  case $arch in
    x64) target=x86_64-pc-windows-msvc ;;
    x86) target=i686-pc-windows-msvc ;;
  esac
  ext=$kind
  stale "$out/$name.$ext" "$out/$name.pdb" -- "$src/$source" "$self" || return 0
  local variant=0
  case $name in alt64) variant=1 ;; big8k) variant=2 ;; esac
  (cd "$out" && clang-14 --driver-mode=cl --target=$target /nologo /c /Z7 /GS- /O1 "/DVARIANT=$variant" "/Fo$obj" -- "$src/$source")
  local link=(/nologo /debug /nodefaultlib /Brepro "/out:$out/$name.$ext" "/pdb:$out/$name.pdb")
  if [ "$kind" = exe ]; then link+=(/entry:main /subsystem:console); else link+=(/dll /noentry); fi
  (cd "$out" && lld-link-14 "${link[@]}" "$@" "$obj")
  rm -f "$out/$name.lib" # the import library a DLL link writes (lld-link 14 has no /noimplib)
  echo "built $name.$ext $name.pdb"
}

elf() {
  local d="$out/elfdebug"
  stale "$d/prog" "$d/prog.debug" -- "$src/elfdebug/prog.c" "$self" || return 0
  gcc -g -O1 -Wl,--build-id=sha1 "$src/elfdebug/prog.c" -o "$d/prog.full"
  objcopy --only-keep-debug "$d/prog.full" "$d/prog.debug"
  # The stripped binary keeps its build-id note (an allocated section) and points to its debug file.
  (cd "$d" && objcopy --strip-debug --strip-unneeded --add-gnu-debuglink=prog.debug prog.full prog)
  rm -f "$d/prog.full"
  echo "built elfdebug/prog elfdebug/prog.debug"
}

# Two cores: build in two parallel lanes, fail if either fails.
(
  pe hello64 x64 exe hello.c
  pe hello32 x86 exe hello.c
  pe alt64 x64 exe hello.c '/pdbaltpath:%_PDB%'
  pe big8k x64 exe hello.c /pdbpagesize:8192
) &
lane1=$!
(
  pe lib64 x64 dll lib.c
  pe lib32 x86 dll lib.c
  elf
) &
lane2=$!
status=0
wait $lane1 || status=1
wait $lane2 || status=1
if [ $status -ne 0 ]; then
  echo "build-testbins: a build step failed (see above)" >&2
  exit 1
fi
