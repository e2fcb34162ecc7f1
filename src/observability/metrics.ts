// Prometheus metrics on a registry per app instance (tests build many apps in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  private readonly scrapeHooks: Array<() => void> = [];
  readonly tokensIssued = new Counter({
    name: 'signet_tokens_issued_total',
    help: 'Tokens issued, by ring and client',
    labelNames: ['ring', 'client'] as const,
    registers: [this.registry],
  });
  readonly requestErrors = new Counter({
    name: 'signet_request_errors_total',
    help: 'Requests answered with an error, by stable error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly signDuration = new Histogram({
    name: 'signet_backend_sign_seconds',
    help: 'Time for the backend to sign one token',
    labelNames: ['ring', 'backend'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly jwksRequests = new Counter({
    name: 'signet_jwks_requests_total',
    help: 'JWKS requests by response status (200 or 304)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly refreshFailures = new Counter({
    name: 'signet_ring_refresh_failures_total',
    help: 'Failed reads of a ring from its backend (the last good keys keep being served)',
    labelNames: ['ring'] as const,
    registers: [this.registry],
  });
  readonly canaryFailures = new Counter({
    name: 'signet_canary_failures_total',
    help: 'Canary attempts that failed: the version may not sign until one passes',
    labelNames: ['ring', 'version'] as const,
    registers: [this.registry],
  });
  readonly versionState = new Gauge({
    name: 'signet_key_versions',
    help: 'Key versions per ring and lifecycle state',
    labelNames: ['ring', 'state'] as const,
    registers: [this.registry],
  });
  readonly signingVersionAge = new Gauge({
    name: 'signet_signing_version_age_seconds',
    help: 'Age of the version that signs, per ring (alert when it passes rotation_period)',
    labelNames: ['ring'] as const,
    registers: [this.registry],
  });
  readonly keyAuditFindings = new Gauge({
    name: 'signet_key_audit_findings',
    help: 'Settings that weaken a ring key (exportable, plaintext backup, deletable, software key); alert on > 0',
    labelNames: ['ring'] as const,
    registers: [this.registry],
  });
  readonly rotations = new Counter({
    name: 'signet_rotations_total',
    help: 'Versions created by Signet, by ring and reason (scheduled, manual, revocation)',
    labelNames: ['ring', 'reason'] as const,
    registers: [this.registry],
  });

  readonly ringCanSign = new Gauge({
    name: 'signet_ring_can_sign',
    help: 'Whether a version of the ring may sign now (1) or not (0): all revoked or quarantined, or blocked by a canary',
    labelNames: ['ring'] as const,
    registers: [this.registry],
  });
  readonly rotationPeriod = new Gauge({
    name: 'signet_rotation_period_seconds',
    help: 'The ring\'s configured rotation period (0 = no scheduled rotation), to compare with the signing version\'s age',
    labelNames: ['ring'] as const,
    registers: [this.registry],
  });
  readonly integrityEvents = new Counter({
    name: 'signet_key_integrity_events_total',
    help: 'A backend key changed or vanished under a published version, or its signature did not verify; the version stopped signing',
    labelNames: ['ring', 'kind'] as const,
    registers: [this.registry],
  });
  readonly revocationPropagation = new Histogram({
    name: 'signet_revocation_propagation_seconds',
    help: 'From a revocation being recorded to this replica applying it',
    labelNames: ['ring'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly stateDataLoss = new Counter({
    name: 'signet_state_data_loss_total',
    help: 'Times a store was found to have lost its data (Redis generation marker gone); every known fact was written back',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  readonly revocationsReasserted = new Counter({
    name: 'signet_revocations_reasserted_total',
    help: 'Revocations written back to a store that lacked them (lost data, or a store that was unreachable)',
    labelNames: ['ring', 'store'] as const,
    registers: [this.registry],
  });
  readonly auditWriteFailures = new Counter({
    name: 'signet_audit_write_failures_total',
    help: 'Audit records that could not be written; the token was not handed out',
    registers: [this.registry],
  });

  /**
   * HTTP server duration by route pattern and status: the OpenTelemetry semantic convention
   * http.server.request.duration, in Prometheus naming (seconds, _bucket/_sum/_count).
   */
  readonly httpDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    registers: [this.registry],
  });
  private readonly httpChildren = new Map<string, ReturnType<Histogram<'method' | 'route' | 'status_code'>['labels']>>();
  readonly backendCircuitState = new Gauge({
    name: 'signet_backend_circuit_state',
    help: 'Circuit breaker per backend: 0 closed, 1 half-open (a trial call is out), 2 open (calls fail fast)',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: 'signet_backend_up',
    help: 'Whether the backend answers (1): its circuit is closed and its last call got an answer',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });
  readonly backendRequestSeconds = new Histogram({
    name: 'signet_backend_request_seconds',
    help: 'Backend calls by operation and outcome (ok, timeout, unavailable, throttled, error); one Transit batch is one call',
    labelNames: ['backend', 'operation', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly signQueueDepth = new Gauge({
    name: 'signet_sign_queue_depth',
    help: 'Signs in progress per ring (queued for a batch or out at the backend); bounded by server.sign_queue_limit',
    labelNames: ['ring'] as const,
    registers: [this.registry],
  });
  readonly requestsShed = new Counter({
    name: 'signet_requests_shed_total',
    help: 'Requests refused or cut short without being worked on to the end, by reason (queue_full, deadline, circuit_open, overload, shutting_down, not_ready)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Standard names (process_*, nodejs_*), so stock Node.js dashboards work.
    collectDefaultMetrics({ register: this.registry });
  }

  /** Records one HTTP request; label children are bound once per (method, route, status). */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${route} ${statusCode}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.httpDuration.labels(method, route, String(statusCode));
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** State read at scrape time (ring lifecycles), so gauges are never staler than the scrape. */
  beforeScrape(hook: () => void): void {
    this.scrapeHooks.push(hook);
  }

  /** The exposition text, after the scrape hooks ran. */
  async scrape(): Promise<string> {
    for (const hook of this.scrapeHooks) hook();
    return this.registry.metrics();
  }
}
