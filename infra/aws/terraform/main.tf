# One Signet ring on AWS KMS: its first version (a KMS key named alias/<ring_key>/v1), the ring
# alias alias/<ring_key>, and the signer and rotator IAM policies (rendered from ../*.json, so
# the JSON files stay the single source). Later versions are created by the gateway
# (`signet keys rotate` / scheduled rotation), not here.

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

locals {
  # First KMS key spec for each alg, as the gateway's createVersion picks it (src/jose/algorithms.ts).
  key_specs = {
    ES256  = "ECC_NIST_P256"
    ES384  = "ECC_NIST_P384"
    ES512  = "ECC_NIST_P521"
    ES256K = "ECC_SECG_P256K1"
    RS256  = "RSA_2048"
    RS384  = "RSA_2048"
    RS512  = "RSA_2048"
    PS256  = "RSA_2048"
    PS384  = "RSA_2048"
    PS512  = "RSA_2048"
    EdDSA  = "ECC_NIST_EDWARDS25519"
  }
  key_spec = local.key_specs[var.alg]
  policy_vars = {
    region     = var.region
    account_id = data.aws_caller_identity.current.account_id
    ring_key   = var.ring_key
    key_spec   = local.key_spec
  }
}

resource "aws_kms_key" "v1" {
  description              = "signet ring key ${var.ring_key}, version 1 (${var.alg})"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = local.key_spec
  deletion_window_in_days  = 30
  # No `policy`: the default key policy lets IAM policies (below) grant access.
  tags = {
    "signet:ring"    = var.ring_key
    "signet:version" = "1"
  }
}

resource "aws_kms_alias" "v1" {
  name          = "alias/${var.ring_key}/v1"
  target_key_id = aws_kms_key.v1.key_id
}

resource "aws_kms_alias" "ring" {
  name          = "alias/${var.ring_key}"
  target_key_id = aws_kms_key.v1.key_id

  lifecycle {
    # The gateway moves this alias to the signing version after rotations; Terraform must not move it back.
    ignore_changes = [target_key_id]
  }
}

resource "aws_iam_policy" "signer" {
  name        = "signet-${var.ring_key}-signer"
  description = "Signet gateway: sign with, and read, the versions of ring key ${var.ring_key}"
  policy      = templatefile("${path.module}/../signer-policy.json", local.policy_vars)
}

resource "aws_iam_policy" "rotator" {
  name        = "signet-${var.ring_key}-rotator"
  description = "Signet: create, name, revoke and discard versions of ring key ${var.ring_key}"
  policy      = templatefile("${path.module}/../rotator-policy.json", local.policy_vars)
}

resource "aws_iam_role_policy_attachment" "signer" {
  count      = var.signer_role_name == null ? 0 : 1
  role       = var.signer_role_name
  policy_arn = aws_iam_policy.signer.arn
}

resource "aws_iam_role_policy_attachment" "rotator" {
  count      = var.rotator_role_name == null ? 0 : 1
  role       = var.rotator_role_name
  policy_arn = aws_iam_policy.rotator.arn
}

output "version_1_key_arn" {
  value = aws_kms_key.v1.arn
}

output "signer_policy_arn" {
  value = aws_iam_policy.signer.arn
}

output "rotator_policy_arn" {
  value = aws_iam_policy.rotator.arn
}
