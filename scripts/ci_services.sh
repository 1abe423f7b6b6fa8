#!/usr/bin/env bash
# Install what the workbench tests need (idempotent): PostgreSQL server binaries (the tests start a
# throwaway cluster on 127.0.0.1 themselves, see tests/pg.py), Chromium for the end-to-end browser
# test (driven by Playwright for Python via executable_path=/usr/bin/chromium; never
# `playwright install`), chromium-driver, and a CJK font so screenshots show Chinese text.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else echo "ci_services: need root or sudo for apt-get" >&2; exit 1; fi
fi

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || need+=(fonts-wqy-microhei)

if [ ${#need[@]} -gt 0 ]; then
  echo "ci_services: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  echo "ci_services: postgresql, chromium, chromium-driver and a CJK font are already installed"
fi

# The Debian package may auto-start a cluster on 5432; the tests do not use it (they start their own
# on a free loopback port as the postgres user), so it is left as it is.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
echo "ci_services: PostgreSQL binaries in ${pg_bin}; $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium missing')"
