// Backend type → implementation. The only place that knows every backend.
import type { BackendConfig } from '../config/schema.js';
import { AwsKmsBackend } from './aws-kms.js';
import type { SigningBackend } from './backend.js';
import { LocalBackend } from './local.js';
import { VaultTransitBackend } from './vault-transit.js';

export function createBackend(config: BackendConfig): SigningBackend {
  switch (config.type) {
    case 'local':
      return new LocalBackend({ dataDir: config.dataDir });
    case 'vault-transit':
      return new VaultTransitBackend(config);
    case 'aws-kms':
      return new AwsKmsBackend(config);
  }
}
