#!/usr/bin/env bash
# The project's test command (README, `npm run test:all`, called by .ci/run): installs what the
# tests need when it is missing (Debian packages, npm packages), builds, and runs every test.
# Safe to run again: it installs nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: clang/lld build real PE+PDB pairs, llvm/binutils are the
# independent readers, nginx is the HTTP origin, curl the reference client, gcc builds ELF files.
need_pkgs=()
need() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
need clang-14 clang-14
need lld-link-14 lld-14
need llvm-readobj llvm
need llvm-pdbutil llvm
need obj2yaml llvm
need yaml2obj llvm
need llvm-dwarfdump llvm
need llvm-objdump llvm
need readelf binutils
need objcopy binutils
need gcc gcc
need nginx nginx-light
need cabextract cabextract # CAB expansion is checked against libmspack (src/formats/cab, src/store/expand.test.ts)
need gcab gcab # makes the MSZIP .pd_ store files the tests serve
need curl curl
need openssl openssl
need tmux tmux
# symsrv add/del: cabextract (libmspack) and gcab check the cabinets --compress writes; unzip opens
# the symstore.exe-written stores of test/fixtures/symstore.
need cabextract cabextract
need gcab gcab
need unzip unzip
# debuginfod stores are tested against elfutils' real debuginfod.
need debuginfod debuginfod
# symsrv serve: htpasswd writes the users file of its Basic-auth test; gdb is one of its real clients.
need htpasswd apache2-utils
need gdb gdb
# GNOME proxy settings (src/transport/select/desktop.test.ts): the real gsettings, keyfile backend.
need gsettings libglib2.0-bin
[ -e /usr/share/glib-2.0/schemas/org.gnome.system.proxy.gschema.xml ] || need_pkgs+=(gsettings-desktop-schemas)
[ -x /usr/bin/time ] || need_pkgs+=(time)
[ -e /usr/lib/systemd/boot/efi/systemd-bootx64.efi ] || need_pkgs+=(systemd-boot-efi)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test-all: installing Debian packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# The authenticating-proxy rig: squid, Samba winbind, MIT Kerberos, libkrb5-dev (for the optional
# npm `kerberos` package, so it must come before npm ci).
bash test/rig/install.sh
# Debian ships unversioned llvm tool links only with the `llvm` package; use the -14 ones if needed.
if ! command -v llvm-readobj >/dev/null 2>&1 && [ -x /usr/lib/llvm-14/bin/llvm-readobj ]; then
  export PATH="/usr/lib/llvm-14/bin:$PATH"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
# One test file at a time: the suites start real servers, and this machine has two cores.
node --test --test-concurrency=1 dist/
