#!/usr/bin/env bash
# test/rig/install.sh: installs the Debian packages the authenticating-proxy rig (test/rig/rig.ts)
# needs, and only those that are missing. Idempotent; prints nothing when everything is there.
#   squid                  the proxies (one instance per scheme)
#   winbind                winbindd + ntlm_auth: NTLM for squid (standalone, no smbd)
#   samba-common-bin       smbpasswd (adds alice to the tdbsam passdb), wbinfo
#   krb5-kdc krb5-admin-server krb5-user   the MIT KDC, kadmin.local/kdb5_util, kinit
#   openssl curl           test certificates; curl is the reference client of the self-check
#   libkrb5-dev            lets the optional npm `kerberos` package build
#   nginx-light            the HTTP and HTTPS origins (test/helpers/nginx.ts; scripts/test-all.sh installs it too)
#   lighttpd               checks Digest SHA-256 answers, which squid cannot (test/helpers/lighttpd.ts)
# Other proxy brands of the interop matrix (test/interop, docs/interop.md), each run from its binary with its own config:
#   tinyproxy              Basic; answers refused credentials with 401 (test/rig/tinyproxy.ts)
#   apache2-bin            Apache httpd 2.4 forward proxy, Basic and Digest (test/rig/apache.ts; only the binary and its modules)
#   mitmproxy              mitmdump --proxyauth, Basic, intercepting TLS (test/rig/mitmproxy.ts)
#   cntlm                  a local NTLM proxy chained in front of the NTLM squid (test/rig/cntlm.ts)
#   dante-server microsocks   SOCKS5 servers (test/rig/socks.ts): dante checks RFC 1929 passwords
#                          against the system's, microsocks its -u/-P
# Must run as root (the rig itself needs root: squid, winbindd, useradd).
set -euo pipefail

pkgs=(squid winbind samba-common-bin krb5-kdc krb5-admin-server krb5-user openssl curl libkrb5-dev lighttpd tinyproxy apache2-bin mitmproxy cntlm dante-server microsocks)
# nginx counts as present in any flavour (nginx-light, nginx-core, ...): only its binary is used.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || pkgs+=(nginx-light)

missing=()
for p in "${pkgs[@]}"; do
  # "install ok installed" only: a removed package leaves "deinstall ok config-files" behind.
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "rig/install: missing Debian packages: ${missing[*]} (run this script as root to install them)" >&2
  exit 1
fi

echo "rig/install: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# On a fresh machine the package lists are empty, so update once before installing.
# apt's chatter (debconf notes and the like) is shown only when something fails.
log=$(mktemp)
cleanup() { rm -f "$log"; }
# The postinst scripts start the system squid, winbind, KDC, lighttpd, tinyproxy and cntlm services unless
# policy-rc.d says no; a system winbindd would then own the hard-coded /run/samba/winbindd/pipe,
# a system squid port 3128, lighttpd port 80. Where no policy exists, forbid service starts for the duration of the install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# temporary, from symsrv test/rig/install.sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  cleanup() { rm -f "$log" /usr/sbin/policy-rc.d; }
fi
trap cleanup EXIT
if ! { apt-get -o DPkg::Lock::Timeout=900 update -qq &&
       apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "rig/install: apt-get failed" >&2
  exit 1
fi
