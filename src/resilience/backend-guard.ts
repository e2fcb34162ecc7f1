// Every call a backend makes goes through its guard: a circuit breaker (cockatiel) that fails in
// microseconds after repeated failures, probes the backend itself after a cool-down so it closes
// without waiting for traffic, and an observer that times each call for the metrics. The guard
// also remembers, per ring, whether the last sign or key read worked: the lifecycle alone cannot
// know that a backend stopped answering or lost a key, and nothing may say "can sign" then.
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import {
  BackendThrottledError,
  BackendTimeoutError,
  BackendUnreachableError,
  CircuitOpenError,
  DeadlineExceededError,
  GatewayError,
  InvalidRequestError,
  OverloadedError,
} from '../errors.js';

export type BackendOutcome = 'ok' | 'timeout' | 'unavailable' | 'throttled' | 'error';
/** The operations whose outcome says whether a ring can sign (the others only feed the metrics and the circuit). */
export type RingOperation = 'sign' | 'list_versions';

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

  /** Runs one backend call under the circuit, timed for signet_backend_request_seconds{operation}. */
  async call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    // cockatiel lets calls wait behind the half-open trial; a trial can take a whole timeout, so
    // everyone else fails fast instead.
    if (this.policy.state === CircuitState.HalfOpen) throw this.openError();
    const started = performance.now();
    let value: T;
    try {
      value = await this.policy.execute(work);
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw this.openError();
      this.record(operation, outcomeOf(error), started);
      throw error;
    }
    this.record(operation, 'ok', started);
    return value;
  }

  /**
   * Runs a whole sign or key read of `ring` (however many calls it makes, whatever it checks after
   * them) and remembers whether it worked: that is what says whether the ring can sign.
   */
  forRing<T>(ring: string, operation: RingOperation, work: () => Promise<T>): Promise<T> {
    return work().then(
      (value) => {
        this.ringSucceeded(ring, operation);
        return value;
      },
      (error: unknown) => {
        this.ringFailed(ring, operation, error);
        throw error;
      },
    );
  }

  private ringSucceeded(ring: string, operation: RingOperation): void {
    const current = this.rings.get(ring);
    if (!current || current.ok) return;
    // A key read that works says the backend answers again; it does not say that a sign the
    // backend refused (permission, version) would now work: only a sign clears that.
    if (operation !== 'sign' && current.failedOperation === 'sign' && current.outcome === 'error') return;
    this.rings.set(ring, { ok: true });
  }

  private ringFailed(ring: string, operation: RingOperation, error: unknown): void {
    // Refused before reaching the backend, or the caller's own fault: nothing learnt about the ring.
    if (error instanceof CircuitOpenError || error instanceof OverloadedError || error instanceof InvalidRequestError) return;
    const outcome = error instanceof DeadlineExceededError ? 'timeout' : outcomeOf(error);
    if (outcome === 'throttled') return;
    const code = error instanceof GatewayError ? `${error.code}: ` : '';
    this.rings.set(ring, { ok: false, reason: `last ${operation.replace('_', ' ')} failed: ${code}${(error as Error).message}`, failedOperation: operation, outcome });
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

  private record(operation: string, outcome: BackendOutcome, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.lastCallReached = outcome !== 'timeout' && outcome !== 'unavailable';
    for (const observer of this.observers) observer(operation, outcome, seconds);
  }

  private scheduleProbe(): void {
    if (!this.probe || this.closed) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      if (this.policy.state !== CircuitState.Open || !this.probe) return;
      // A failed probe opens the circuit again, which schedules the next one.
      this.call('probe', this.probe).catch(() => undefined);
    }, this.options.cooldownMs + 10);
    this.probeTimer.unref();
  }
}
