// What routes are given: built once per app in app.ts.
import type { SignetConfig } from './config/schema.js';
import type { KeyService } from './keyring/key-service.js';
import type { Clock } from './keyring/keyring.js';
import type { RotationController } from './keyring/rotation.js';
import type { Metrics } from './observability/metrics.js';
import type { ClientDirectory } from './tokens/policy.js';

export interface Services {
  config: SignetConfig;
  keys: KeyService;
  clients: ClientDirectory;
  metrics: Metrics;
  clock: Clock;
  rotation: RotationController;
}

declare module 'fastify' {
  interface FastifyInstance {
    signet: Services;
  }
}
