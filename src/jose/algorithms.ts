// One row per JWS alg: what key it needs and how each backend must be asked to sign with it.
// Backends read their columns from here instead of branching on alg names.

export const JWS_ALGS = [
  'ES256',
  'ES384',
  'ES512',
  'ES256K',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;
export type JwsAlg = (typeof JWS_ALGS)[number];

export type Hash = 'sha2-256' | 'sha2-384' | 'sha2-512';

export interface AlgSpec {
  kty: 'EC' | 'RSA' | 'OKP';
  /** EC/OKP curve name as JWK `crv`. */
  crv?: 'P-256' | 'P-384' | 'P-521' | 'secp256k1' | 'Ed25519';
  hash: Hash;
  /** ECDSA: length in bytes of each of r and s in the JOSE signature. */
  ecCoordinateBytes?: number;
  rsaPadding?: 'pkcs1v15' | 'pss';
  /** Transit key types that can sign with this alg. Undefined: Transit cannot. */
  vaultKeyTypes?: readonly string[];
  /** KMS SigningAlgorithmSpec and the key specs that support it. */
  kmsSigningAlgorithm: string;
  kmsKeySpecs: readonly string[];
}

const RSA_VAULT = ['rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
const RSA_KMS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;

export const ALGORITHMS: Readonly<Record<JwsAlg, AlgSpec>> = {
  ES256: { kty: 'EC', crv: 'P-256', hash: 'sha2-256', ecCoordinateBytes: 32, vaultKeyTypes: ['ecdsa-p256'], kmsSigningAlgorithm: 'ECDSA_SHA_256', kmsKeySpecs: ['ECC_NIST_P256'] },
  ES384: { kty: 'EC', crv: 'P-384', hash: 'sha2-384', ecCoordinateBytes: 48, vaultKeyTypes: ['ecdsa-p384'], kmsSigningAlgorithm: 'ECDSA_SHA_384', kmsKeySpecs: ['ECC_NIST_P384'] },
  ES512: { kty: 'EC', crv: 'P-521', hash: 'sha2-512', ecCoordinateBytes: 66, vaultKeyTypes: ['ecdsa-p521'], kmsSigningAlgorithm: 'ECDSA_SHA_512', kmsKeySpecs: ['ECC_NIST_P521'] },
  ES256K: { kty: 'EC', crv: 'secp256k1', hash: 'sha2-256', ecCoordinateBytes: 32, kmsSigningAlgorithm: 'ECDSA_SHA_256', kmsKeySpecs: ['ECC_SECG_P256K1'] },
  RS256: { kty: 'RSA', hash: 'sha2-256', rsaPadding: 'pkcs1v15', vaultKeyTypes: RSA_VAULT, kmsSigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256', kmsKeySpecs: RSA_KMS },
  RS384: { kty: 'RSA', hash: 'sha2-384', rsaPadding: 'pkcs1v15', vaultKeyTypes: RSA_VAULT, kmsSigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_384', kmsKeySpecs: RSA_KMS },
  RS512: { kty: 'RSA', hash: 'sha2-512', rsaPadding: 'pkcs1v15', vaultKeyTypes: RSA_VAULT, kmsSigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_512', kmsKeySpecs: RSA_KMS },
  PS256: { kty: 'RSA', hash: 'sha2-256', rsaPadding: 'pss', vaultKeyTypes: RSA_VAULT, kmsSigningAlgorithm: 'RSASSA_PSS_SHA_256', kmsKeySpecs: RSA_KMS },
  PS384: { kty: 'RSA', hash: 'sha2-384', rsaPadding: 'pss', vaultKeyTypes: RSA_VAULT, kmsSigningAlgorithm: 'RSASSA_PSS_SHA_384', kmsKeySpecs: RSA_KMS },
  PS512: { kty: 'RSA', hash: 'sha2-512', rsaPadding: 'pss', vaultKeyTypes: RSA_VAULT, kmsSigningAlgorithm: 'RSASSA_PSS_SHA_512', kmsKeySpecs: RSA_KMS },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', hash: 'sha2-512', vaultKeyTypes: ['ed25519'], kmsSigningAlgorithm: 'ED25519_SHA_512', kmsKeySpecs: ['ECC_NIST_EDWARDS25519'] },
};

/** Node's name for the hash of an alg, for digests and local signing. */
export const NODE_HASH: Readonly<Record<Hash, string>> = {
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
};

export function isJwsAlg(value: unknown): value is JwsAlg {
  return typeof value === 'string' && (JWS_ALGS as readonly string[]).includes(value);
}
