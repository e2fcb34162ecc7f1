#!/usr/bin/env bash
# Sets up a Vault/OpenBao dev server for Signet: Transit, the three policies, an ES256 ring key,
# and an AppRole "signet" whose credentials are printed at the end.
#   VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root infra/vault/setup-dev.sh
# Works with either CLI: set VAULT_CLI=bao for OpenBao (default: vault if present, else bao).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cli=${VAULT_CLI:-$(command -v vault >/dev/null 2>&1 && echo vault || echo bao)}
key=${SIGNET_KEY:-signet-default}

"$cli" secrets list -format=json | grep -q '"transit/"' || "$cli" secrets enable transit
for policy in signer reader rotator; do
  "$cli" policy write "signet-$policy" "$here/$policy.hcl"
done
"$cli" read "transit/keys/$key" >/dev/null 2>&1 || "$cli" write -f "transit/keys/$key" type=ecdsa-p256

"$cli" auth list -format=json | grep -q '"approle/"' || "$cli" auth enable approle
"$cli" write auth/approle/role/signet token_policies=signet-signer,signet-rotator token_ttl=1h token_max_ttl=24h secret_id_ttl=0
role_id=$("$cli" read -field=role_id auth/approle/role/signet/role-id)
secret_id=$("$cli" write -f -field=secret_id auth/approle/role/signet/secret-id)
cat <<OUT
Transit key: $key (ecdsa-p256)
AppRole for Signet:
  SIGNET_VAULT_ROLE_ID=$role_id
  SIGNET_VAULT_SECRET_ID=$secret_id
OUT
