#!/usr/bin/env bash
# Regenerates infra/vault/{signer,rotator,reader}.hcl from examples/vault.yaml with
# `signet vault-policy`. The values below only satisfy the example's ${…}: no policy path uses them.
set -euo pipefail
cd "$(dirname "$0")/.."
for role in signer rotator reader; do
  SIGNET_CONFIG=examples/vault.yaml SIGNET_PUBLIC_URL=http://localhost:8080 VAULT_ADDR=http://vault:8200 VAULT_TOKEN=example \
    ORDERS_API_KEY_SHA256=0000000000000000000000000000000000000000000000000000000000000000 \
    npx --no-install tsx src/cli.ts vault-policy --role "$role" >"infra/vault/$role.hcl"
done
