#!/bin/sh
# Sets up a Vault/OpenBao dev server for examples/vault.yaml: Transit, KV v2 for revocation
# records, the three generated policies in this directory, the ES256 ring key, and two AppRoles:
#   signet          the gateway: signet-signer + signet-rotator (it signs, and rotates on schedule)
#   signet-rotator  operators and rotation jobs (`signet keys rotate|revoke`): signet-rotator
#   VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root infra/vault/setup-dev.sh
# Works with either CLI: set VAULT_CLI=bao for OpenBao (default: vault if present, else bao).
# The policies name the key signet-default exactly; for other keys, write the output of
# `signet vault-policy --role …` for your own config instead.
# It prints a role_id and a new secret_id for each AppRole; with SETUP_PRINT_SECRET_IDS=no it
# creates none (docker-compose.yml makes the gateway's own into a file, so none reaches a log).
# POSIX sh, so the Vault image's shell runs it too (docker-compose.yml).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cli=${VAULT_CLI:-$(command -v vault >/dev/null 2>&1 && echo vault || echo bao)}
key=signet-default

mounts=$("$cli" secrets list -format=json)
echo "$mounts" | grep -q '"transit/"' || "$cli" secrets enable transit
echo "$mounts" | grep -q '"secret/"' || "$cli" secrets enable -path=secret kv-v2
for policy in signer rotator reader; do
  "$cli" policy write "signet-$policy" "$here/$policy.hcl"
done
"$cli" read "transit/keys/$key" >/dev/null 2>&1 || "$cli" write -f "transit/keys/$key" type=ecdsa-p256

"$cli" auth list -format=json | grep -q '"approle/"' || "$cli" auth enable approle
"$cli" write auth/approle/role/signet token_policies=signet-signer,signet-rotator token_ttl=1h token_max_ttl=24h secret_id_ttl=0
"$cli" write auth/approle/role/signet-rotator token_policies=signet-rotator token_ttl=15m token_max_ttl=1h secret_id_ttl=0
credentials() {
  echo "  SIGNET_$2_ROLE_ID=$("$cli" read -field=role_id "auth/approle/role/$1/role-id")"
  if [ "${SETUP_PRINT_SECRET_IDS:-yes}" != no ]; then
    echo "  SIGNET_$2_SECRET_ID=$("$cli" write -f -field=secret_id "auth/approle/role/$1/secret-id")"
  fi
}
echo "Transit key: $key (ecdsa-p256); revocation records in KV v2 at secret/"
echo 'AppRole "signet" for the gateway (signet-signer + signet-rotator):'
credentials signet VAULT
echo 'AppRole "signet-rotator" for operators and rotation jobs (signet-rotator):'
credentials signet-rotator ROTATOR
