// What routes are given: built once per app in app.ts.
import type { SignetConfig } from './config-schema.js';
import type { RingRefresher } from './key-actions/refresh.js';
import type { RevocationService } from './key-actions/revocation.js';
import type { RotationController } from './key-actions/rotation.js';
import type { KeyService } from './keyring/key-service.js';
import type { Clock } from './clock.js';
import type { AuditLog } from './observability/audit.js';
import type { Metrics } from './observability/metrics.js';
import type { CallerDirectory } from './auth/callers.js';
import type { RateLimits } from './auth/rate-limit.js';
import type { SignGate } from './resilience/sign-gate.js';
import type { TokenIssuer } from './tokens/issuer.js';

export interface Services {
  config: SignetConfig;
  keys: KeyService;
  refresh: RingRefresher;
  /** The running clients and identity providers (swapped on reload). */
  clients: CallerDirectory;
  rateLimits: RateLimits;
  /** Signs and audits one token for an authorised request, for every route that issues them. */
  issuer: TokenIssuer;
  metrics: Metrics;
  clock: Clock;
  rotation: RotationController;
  revocation: RevocationService;
  audit: AuditLog;
  /** The per-ring bound on signs in progress. */
  signGate: SignGate;
}

declare module 'fastify' {
  interface FastifyInstance {
    signet: Services;
  }
}
