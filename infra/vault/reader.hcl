# Signet reader: publish the JWKS without being able to sign (e.g. a JWKS-only replica, audits).
path "transit/keys/signet-*" {
  capabilities = ["read"]
}
path "transit/keys/+/config" {
  capabilities = ["deny"]
}
path "transit/export/*" {
  capabilities = ["deny"]
}
