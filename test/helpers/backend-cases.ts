// The backends the conformance suite runs against: how to configure each and how to create a
// key in it out of band (as an operator or Terraform would).
import type { JwsAlg } from '../../src/jose/algorithms.js';
import { ALGORITHMS } from '../../src/jose/algorithms.js';
import { MOTO_REGION, provisionKmsVersion, useDummyAwsCredentials } from '../harness/kms.js';
import { OPENBAO_ROOT_TOKEN, vaultRequest } from '../harness/openbao.js';
import { tempDir } from './gateway.js';

export interface ConformanceCase {
  kind: string;
  /** Algs whose signatures this server produces in a form jose accepts. */
  algs: JwsAlg[];
  backendConfig(): Record<string, unknown>;
  provision(key: string, alg: JwsAlg): Promise<void>;
}

export interface ServerUrls {
  openbaoUrl: string;
  motoUrl: string;
}

export function localCase(): ConformanceCase {
  const dataDir = tempDir('signet-local-');
  return {
    kind: 'local',
    algs: ['ES256', 'ES384', 'ES512', 'ES256K', 'RS256', 'PS256', 'EdDSA'],
    backendConfig: () => ({ type: 'local', data_dir: dataDir }),
    provision: async (key, alg) => {
      const { LocalBackend } = await import('../../src/backends/local.js');
      await new LocalBackend({ dataDir }).ensureKey({ ring: key, key, alg });
    },
  };
}

export function vaultCase(urls: () => ServerUrls): ConformanceCase {
  return {
    kind: 'vault-transit',
    algs: ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'],
    backendConfig: () => ({ type: 'vault-transit', address: urls().openbaoUrl, token: OPENBAO_ROOT_TOKEN }),
    provision: async (key, alg) => {
      const type = alg === 'RS256' ? 'rsa-3072' : ALGORITHMS[alg].vaultKeyTypes![0];
      await vaultRequest(urls().openbaoUrl, 'POST', `transit/keys/${key}`, { type });
    },
  };
}

export function awsKmsCase(urls: () => ServerUrls): ConformanceCase {
  useDummyAwsCredentials();
  return {
    kind: 'aws-kms',
    // Only what moto signs the way AWS does. PS256: moto uses the maximum PSS salt, which jose
    // rejects (real KMS uses a hash-length salt; test/aws-kms.test.ts checks what moto does).
    // EdDSA: moto has no ECC_NIST_EDWARDS25519 keys.
    algs: ['ES256', 'ES384', 'ES512', 'ES256K', 'RS256'],
    backendConfig: () => ({ type: 'aws-kms', region: MOTO_REGION, endpoint: urls().motoUrl }),
    provision: async (key, alg) => {
      await provisionKmsVersion(urls().motoUrl, key, alg);
    },
  };
}

export function conformanceCases(urls: () => ServerUrls): ConformanceCase[] {
  return [localCase(), vaultCase(urls), awsKmsCase(urls)];
}
