// KMS helpers for tests: dummy credentials (moto accepts any), an SDK client for moto, and
// out-of-band key provisioning the way an operator or Terraform would do it.
import { CreateAliasCommand, CreateKeyCommand, KMSClient, type KeySpec } from '@aws-sdk/client-kms';
import { ALGORITHMS, type JwsAlg } from '../../src/jose/algorithms.js';

export const MOTO_REGION = 'us-east-1';

/**
 * Makes the SDK's default credential chain find dummy keys in this process, so no test can pick up
 * (or need) real AWS credentials. AWS_PROFILE is removed because the chain skips env credentials
 * when it is set.
 */
export function useDummyAwsCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
}

export function motoClient(motoUrl: string): KMSClient {
  return new KMSClient({ region: MOTO_REGION, endpoint: motoUrl, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

/** Creates a KMS key for `alg` and names it alias/<key>/v<version>; returns its KeyId. */
export async function provisionKmsVersion(motoUrl: string, key: string, alg: JwsAlg, version = 1): Promise<string> {
  const client = motoClient(motoUrl);
  try {
    const created = await client.send(
      new CreateKeyCommand({
        KeySpec: ALGORITHMS[alg].kmsKeySpecs[0] as KeySpec,
        KeyUsage: 'SIGN_VERIFY',
        Tags: [
          { TagKey: 'signet:ring', TagValue: key },
          { TagKey: 'signet:version', TagValue: String(version) },
        ],
      }),
    );
    const keyId = created.KeyMetadata!.KeyId!;
    await client.send(new CreateAliasCommand({ AliasName: `alias/${key}/v${version}`, TargetKeyId: keyId }));
    return keyId;
  } finally {
    client.destroy();
  }
}
