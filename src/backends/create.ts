// Backend type → implementation. The only place that knows every backend. Each is imported
// only when configured, so a Vault deployment never loads the AWS SDK (memory, start-up time).
import type { BackendConfig } from '../config-schema.js';
import type { SigningBackend } from './backend.js';

export async function createBackend(config: BackendConfig): Promise<SigningBackend> {
  switch (config.type) {
    case 'local': {
      const { LocalBackend } = await import('./local.js');
      return new LocalBackend({ dataDir: config.dataDir });
    }
    case 'vault-transit': {
      const { VaultTransitBackend } = await import('./vault-transit.js');
      return new VaultTransitBackend(config);
    }
    case 'aws-kms': {
      const { AwsKmsBackend } = await import('./aws-kms/index.js');
      return new AwsKmsBackend(config);
    }
  }
}
