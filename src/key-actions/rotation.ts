// Drives the lifecycle: scheduled rotation when a ring's active version reaches its period (or
// when nothing may sign), and manual rotation. Every decision comes from computeLifecycle; this
// file only performs the I/O those decisions call for, under a lock shared by the replicas.
import type { Logger } from 'pino';
import { RotationInProgressError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { KeyRing } from '../keyring/keyring.js';
import type { Metrics } from '../observability/metrics.js';
import type { Coordination } from '../state/coordination.js';
import type { WebhookNotifier } from '../webhooks.js';
import type { RingRefresher } from './refresh.js';

const LOCK_TTL_MS = 60_000;

export type RotationReason = 'scheduled' | 'manual' | 'revocation';

export class RotationController {
  private readonly signingSeen = new Map<string, number>();
  /** Rings whose replacement a revocation is making: the scheduler leaves them to it. */
  private readonly replacing = new Set<string>();
  /** Rotations started by a refresh and not finished yet (start-up waits for them). */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly refresher: RingRefresher,
    private readonly coordination: Coordination,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly webhooks: WebhookNotifier,
    private readonly clock: Clock,
  ) {}

  /** Wires scheduling to every refresh. */
  start(): void {
    this.refresher.onRefresh((ring) => this.afterRefresh(ring));
  }

  private afterRefresh(ring: KeyRing): void {
    const { view } = ring.current();
    // With nothing able to sign, the version made is the replacement of a revoked (or disabled,
    // or quarantined) one: key.revoked names it, so no key.rotated is sent for it.
    if (view.rotationDue && !this.replacing.has(ring.name)) {
      const rotation = this.rotateIfDue(ring, view.signing === null ? 'revocation' : 'scheduled');
      this.inFlight.add(rotation);
      void rotation.finally(() => this.inFlight.delete(rotation));
    }
    // Backends that name the signing version (KMS alias) follow the lifecycle's choice.
    if (view.signing !== null && this.signingSeen.get(ring.name) !== view.signing) {
      this.signingSeen.set(ring.name, view.signing);
      ring.backend.markSigning?.(ring.ref, view.signing).catch((error: unknown) =>
        this.logger.warn({ ring: ring.name, err: error }, 'could not record the signing version in the backend'),
      );
    }
  }

  /**
   * Scheduled rotation. Exactly one new version per period: under the shared lock, re-read the
   * backend and create only if the lifecycle still says a version is due.
   */
  async rotateIfDue(ring: KeyRing, reason: RotationReason = 'scheduled', { throwOnError = false } = {}): Promise<number | undefined> {
    try {
      return await this.coordination.withLock(`rotate:${ring.name}`, LOCK_TTL_MS, async () => {
        await this.refresher.refreshRing(ring);
        if (!ring.current().view.rotationDue) return undefined;
        let created = await this.createVersion(ring, reason);
        // After a key was recreated or restored under its name, new versions can land on version
        // numbers pinned to other keys: each is quarantined at once. Go on until one can sign;
        // past the highest pinned number none can land on a pin, so this ends.
        const highestPinned = Math.max(0, ...ring.ledger.pins.keys());
        while (created <= highestPinned && this.landedOnPinnedNumber(ring, created)) {
          const next = await this.createVersion(ring, reason);
          if (next <= created) throw new Error(`the backend made version ${next} after ${created}: version numbers must grow`);
          created = next;
        }
        return created;
      });
    } catch (error) {
      this.logger.error({ ring: ring.name, err: error }, `${reason} rotation failed; will retry on the next refresh`);
      if (throwOnError) throw error;
      return undefined;
    }
  }

  /**
   * Waits, at most `maxMs`, for the rotations the refreshes so far have started: at start-up a
   * ring with nothing able to sign (every version quarantined after its key was recreated, say)
   * gets its replacement before the gateway listens, instead of answering 503 meanwhile.
   */
  async settled(maxMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
    await Promise.race([Promise.allSettled([...this.inFlight]), bound]);
    clearTimeout(timer);
  }

  /** Runs a revocation's replacement work without the scheduler starting a rotation of its own alongside. */
  async replacingFor<T>(ring: KeyRing, work: () => Promise<T>): Promise<T> {
    this.replacing.add(ring.name);
    try {
      return await work();
    } finally {
      this.replacing.delete(ring.name);
    }
  }

  private landedOnPinnedNumber(ring: KeyRing, version: number): boolean {
    const { view } = ring.current();
    return view.signing === null && view.rotationDue && view.versions.some((v) => v.version === version && v.quarantined);
  }

  /** Operator-requested rotation: a new version, published now, signing after prepublish. */
  async rotateNow(ring: KeyRing): Promise<number> {
    const version = await this.coordination.withLock(`rotate:${ring.name}`, LOCK_TTL_MS, () => this.createVersion(ring, 'manual'));
    if (version === undefined) throw new RotationInProgressError(`ring "${ring.name}" is being rotated by another request or replica`);
    return version;
  }

  private async createVersion(ring: KeyRing, reason: RotationReason): Promise<number> {
    const created = await ring.backend.createVersion(ring.ref);
    this.metrics.rotations.inc({ ring: ring.name, reason });
    await this.refresher.refreshRing(ring);
    await this.coordination.announce({ ring: ring.name }).catch((error: unknown) => this.logger.warn({ err: error }, 'could not announce the rotation'));
    const kid = ring.kidOf(created.version);
    this.logger.info({ ring: ring.name, version: created.version, kid, reason, at: this.clock() }, 'new key version created');
    if (reason !== 'revocation') void this.webhooks.notify(ring, 'key.rotated', { version: created.version, kid, reason });
    return created.version;
  }
}
