// Every call a backend makes goes through its guard: a circuit breaker (cockatiel) that fails in
// microseconds after repeated failures, probes the backend itself after a cool-down so it closes
// without waiting for traffic, and an observer that times each call for the metrics. The guard
// also remembers, per ring, whether the last sign or key read worked: the lifecycle alone cannot
// know that a backend stopped answering or lost a key, and nothing may say "can sign" then.
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { BackendThrottledError, BackendTimeoutError, BackendUnreachableError, CircuitOpenError, GatewayError } from '../errors.js';

export type BackendOutcome = 'ok' | 'timeout' | 'unavailable' | 'throttled' | 'error';
/** The operations whose outcome says whether a ring can sign (the others only feed the metrics and the circuit). */
const RING_HEALTH_OPERATIONS: ReadonlySet<string> = new Set(['sign', 'list_versions']);

export interface GuardOptions {
  /** Consecutive unreachable/timeout failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial call (or the probe) may pass. */
  cooldownMs: number;
}

export const DEFAULT_GUARD: GuardOptions = { failureThreshold: 5, cooldownMs: 500 };

export type CallObserver = (operation: string, outcome: BackendOutcome, seconds: number) => void;

export interface RingBackendStatus {
  ok: boolean;
  /** Why the last sign or key read of the ring failed. */
  reason?: string;
  failedOperation?: string;
  outcome?: BackendOutcome;
}

/** signet_backend_circuit_state: 0 closed, 1 half-open, 2 open. */
const GAUGE: Readonly<Record<CircuitState, 0 | 1 | 2>> = {
  [CircuitState.Closed]: 0,
  [CircuitState.HalfOpen]: 1,
  [CircuitState.Open]: 2,
  [CircuitState.Isolated]: 2,
};

export function outcomeOf(error: unknown): BackendOutcome {
  if (error instanceof BackendTimeoutError) return 'timeout';
  if (error instanceof BackendUnreachableError) return 'unavailable';
  if (error instanceof BackendThrottledError) return 'throttled';
  return 'error';
}

export class BackendGuard {
  private readonly policy: CircuitBreakerPolicy;
  private readonly observers: CallObserver[] = [];
  private readonly rings = new Map<string, RingBackendStatus>();
  private lastCallReached = true;
  private probeTimer?: NodeJS.Timeout;
  private probe?: () => Promise<unknown>;
  private closed = false;

  constructor(
    readonly label: string,
    private readonly options: GuardOptions = DEFAULT_GUARD,
  ) {
    this.policy = circuitBreaker(
      handleWhen((error) => error instanceof BackendUnreachableError),
      { halfOpenAfter: options.cooldownMs, breaker: new ConsecutiveBreaker(options.failureThreshold) },
    );
    this.policy.onBreak(() => this.scheduleProbe());
  }

  /** The call the guard makes on its own after each cool-down, so the circuit closes without traffic. */
  setProbe(probe: () => Promise<unknown>): void {
    this.probe = probe;
  }

  observe(observer: CallObserver): void {
    this.observers.push(observer);
  }

  /** 0 closed, 1 half-open, 2 open. */
  get circuitState(): 0 | 1 | 2 {
    return GAUGE[this.policy.state];
  }

  /** The circuit is closed and the last call got an answer. */
  get up(): boolean {
    return this.policy.state === CircuitState.Closed && this.lastCallReached;
  }

  ringStatus(ring: string): RingBackendStatus {
    return this.rings.get(ring) ?? { ok: true };
  }

  /** Runs one backend call under the circuit; `ring` names the ring it is for, if any. */
  async call<T>(operation: string, ring: string | undefined, work: () => Promise<T>): Promise<T> {
    // cockatiel lets calls wait behind the half-open trial; a trial can take a whole timeout, so
    // everyone else fails fast instead.
    if (this.policy.state === CircuitState.HalfOpen) throw this.openError();
    const started = performance.now();
    let value: T;
    try {
      value = await this.policy.execute(work);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw this.openError();
      this.record(operation, ring, outcomeOf(error), started, error);
      throw error;
    }
    this.record(operation, ring, 'ok', started);
    return value;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
  }

  private openError(): CircuitOpenError {
    const error = new CircuitOpenError(`backend "${this.label}" failed ${this.options.failureThreshold} times in a row; calls fail fast until a trial call succeeds`);
    error.retryAfterSeconds = Math.max(1, Math.ceil(this.options.cooldownMs / 1000));
    return error;
  }

  private record(operation: string, ring: string | undefined, outcome: BackendOutcome, started: number, error?: unknown): void {
    const seconds = (performance.now() - started) / 1000;
    this.lastCallReached = outcome !== 'timeout' && outcome !== 'unavailable';
    if (ring !== undefined && RING_HEALTH_OPERATIONS.has(operation) && outcome !== 'throttled') {
      const current = this.rings.get(ring);
      if (outcome === 'ok') {
        // A key read that works says the backend answers again; it does not say a sign the
        // backend refused (permission, version) would now work: only a sign clears that.
        const signRefused = current?.failedOperation === 'sign' && current.outcome === 'error';
        if (current && !current.ok && !(signRefused && operation !== 'sign')) this.rings.set(ring, { ok: true });
      } else {
        const code = error instanceof GatewayError ? `${error.code}: ` : '';
        this.rings.set(ring, { ok: false, reason: `last ${operation.replace('_', ' ')} failed: ${code}${(error as Error).message}`, failedOperation: operation, outcome });
      }
    }
    for (const observer of this.observers) observer(operation, outcome, seconds);
  }

  private scheduleProbe(): void {
    if (!this.probe || this.closed) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      if (this.policy.state !== CircuitState.Open || !this.probe) return;
      // A failed probe opens the circuit again, which schedules the next one.
      this.call('probe', undefined, this.probe).catch(() => undefined);
    }, this.options.cooldownMs + 10);
    this.probeTimer.unref();
  }
}
