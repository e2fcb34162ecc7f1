// Metrics of the identity layer, on the app's registry.
import { Counter, Gauge, type Registry } from 'prom-client';

export class AuthMetrics {
  readonly configGeneration: Gauge;
  readonly configReloads: Counter<'result'>;

  constructor(registry: Registry) {
    this.configGeneration = new Gauge({
      name: 'signet_config_generation',
      help: 'Which config this replica runs: 1 at start-up, +1 for each reload that was applied (clients and identity providers)',
      registers: [registry],
    });
    this.configReloads = new Counter({
      name: 'signet_config_reloads_total',
      help: 'Config reloads by result: applied, or refused (the running config stays)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
  }
}
