variable "region" {
  description = "AWS region of the ring's KMS keys (the gateway's aws-kms backend region)."
  type        = string
}

variable "ring_key" {
  description = "The ring's `key` in the Signet config: aliases are alias/<ring_key>/v<N> and alias/<ring_key>."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.ring_key)) && var.ring_key != "aws"
    error_message = "Use A-Z, a-z, 0-9, _ and - (no \"/\", so one ring's alias pattern never covers another's); \"aws\" is reserved (alias/aws/*)."
  }
}

variable "alg" {
  description = "The ring's JWS alg. EdDSA needs a KMS region with Ed25519 keys."
  type        = string

  validation {
    condition     = contains(["ES256", "ES384", "ES512", "ES256K", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"], var.alg)
    error_message = "alg must be one of ES256, ES384, ES512, ES256K, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA."
  }
}

variable "signer_role_name" {
  description = "IAM role of the gateway; gets the signer policy. Null: create the policy only."
  type        = string
  default     = null
}

variable "rotator_role_name" {
  description = "IAM role that rotates and revokes (often the gateway's role too); gets the rotator policy. Null: create the policy only."
  type        = string
  default     = null
}
