# Signet rotator: create ring keys and new versions (scheduled rotation, revocation).
# Attach together with signer.hcl to the gateway's role, or alone to an operator's.

# Create a key (POST transit/keys/<name>) and read it.
path "transit/keys/signet-*" {
  capabilities = ["create", "update", "read"]
}

# Add a version.
path "transit/keys/signet-*/rotate" {
  capabilities = ["update"]
}

# Still no exportability, backups or deletion: those stay with the security team.
path "transit/keys/+/config" {
  capabilities = ["deny"]
}
path "transit/export/*" {
  capabilities = ["deny"]
}
path "transit/backup/*" {
  capabilities = ["deny"]
}
