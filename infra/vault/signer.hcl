# Signet signer: sign with ring keys and read their public keys. Nothing else.
# Assumes Transit at "transit/" and ring keys named "signet-*"; change both to match your setup.

# Sign (the glob also covers the transit/sign/<key>/<hash> form).
path "transit/sign/signet-*" {
  capabilities = ["update"]
}

# Read key metadata: versions, public keys, creation times. No private material is returned.
path "transit/keys/signet-*" {
  capabilities = ["read"]
}

# Never let a signer make a key exportable or back it up: exportable=true can never be undone.
# Explicit deny wins over any other policy attached to the same token.
path "transit/keys/+/config" {
  capabilities = ["deny"]
}
path "transit/export/*" {
  capabilities = ["deny"]
}
path "transit/backup/*" {
  capabilities = ["deny"]
}
path "transit/restore/*" {
  capabilities = ["deny"]
}

# Let the token renew itself (AppRole tokens are renewed in the background).
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
