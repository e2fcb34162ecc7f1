// Drives the lifecycle: scheduled rotation when a ring's active version reaches its period,
// manual rotation, and emergency revocation. Every decision comes from computeLifecycle; this
// file only performs the I/O those decisions call for, under a lock shared by the replicas.
import type { Logger } from 'pino';
import { RotationInProgressError, UnknownVersionError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { SharedState } from '../state/shared-state.js';
import type { WebhookNotifier } from '../webhooks.js';
import type { KeyService } from './key-service.js';
import type { KeyRing } from './keyring.js';

const LOCK_TTL_MS = 60_000;

export interface RevocationResult {
  version: number;
  kid: string | undefined;
  replacement?: { version: number; kid: string | undefined };
}

export class RotationController {
  private readonly signingSeen = new Map<string, number>();

  constructor(
    private readonly keys: KeyService,
    private readonly state: SharedState,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly webhooks: WebhookNotifier,
  ) {}

  /** Wires scheduling to every refresh, and refreshes a ring at once when another replica changed it. */
  async start(): Promise<void> {
    this.keys.onRefresh((ring) => this.afterRefresh(ring));
    await this.state.onChange((name) => {
      const ring = this.keys.rings.get(name);
      if (ring) void this.keys.refreshRing(ring).catch(() => undefined);
    });
  }

  private afterRefresh(ring: KeyRing): void {
    const { view } = ring.current();
    if (view.rotationDue) void this.rotateIfDue(ring);
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
   * backend and create only if the newest version is still the one that reached its period.
   */
  async rotateIfDue(ring: KeyRing): Promise<number | undefined> {
    try {
      return await this.state.withLock(`rotate:${ring.name}`, LOCK_TTL_MS, async () => {
        await this.keys.refreshRing(ring);
        if (!ring.current().view.rotationDue) return undefined;
        return this.createVersion(ring, 'scheduled');
      });
    } catch (error) {
      this.logger.error({ ring: ring.name, err: error }, 'scheduled rotation failed; will retry on the next refresh');
      return undefined;
    }
  }

  /** Operator-requested rotation: a new version, published now, signing after prepublish. */
  async rotateNow(ring: KeyRing): Promise<number> {
    const version = await this.state.withLock(`rotate:${ring.name}`, LOCK_TTL_MS, () => this.createVersion(ring, 'manual'));
    if (version === undefined) throw new RotationInProgressError(`ring "${ring.name}" is being rotated by another request or replica`);
    return version;
  }

  private async createVersion(ring: KeyRing, reason: 'scheduled' | 'manual' | 'revocation'): Promise<number> {
    const created = await ring.backend.createVersion(ring.ref);
    this.metrics.rotations.inc({ ring: ring.name, reason });
    await this.keys.refreshRing(ring);
    await this.state.publishChange(ring.name).catch((error: unknown) => this.logger.warn({ err: error }, 'could not announce the rotation'));
    const kid = ring.kidOf(created.version);
    this.logger.info({ ring: ring.name, version: created.version, kid, reason }, 'new key version created');
    if (reason !== 'revocation') void this.webhooks.notify(ring, 'key.rotated', { version: created.version, kid, reason });
    return created.version;
  }

  /**
   * Emergency revocation: recorded in shared state (and in the backend where it can express it),
   * applied here at once, announced to the other replicas, and replaced by a new version.
   */
  async revoke(ring: KeyRing, version: number, reason: string): Promise<RevocationResult> {
    const before = ring.current();
    const status = before.view.versions.find((v) => v.version === version);
    if (!status) throw new UnknownVersionError(`ring "${ring.name}" has no version ${version}`);
    const kid = ring.kidOf(version);
    await this.state.revoke(ring.name, { version, reason, at: Date.now() });
    await ring.backend.revokeVersion?.(ring.ref, version);
    ring.markRevoked(version);
    this.logger.warn({ ring: ring.name, version, kid, reason }, 'key version revoked');

    // A replacement is needed when the revoked version signed or was next in line to. It is made
    // under the rotation lock, like any other version, so a scheduled rotation racing this one
    // (nothing can sign, so one is due) does not add a second version.
    let replacement: RevocationResult['replacement'];
    const liveNewer = before.view.versions.some((v) => v.version > version && v.state !== 'revoked');
    if (status.state === 'active' || (status.state === 'pending' && !liveNewer)) {
      await this.state.withLock(`rotate:${ring.name}`, LOCK_TTL_MS, async () => {
        await this.keys.refreshRing(ring);
        if (ring.current().view.rotationDue) await this.createVersion(ring, 'revocation');
      });
      await this.keys.refreshRing(ring);
      const newest = ring.current().view.versions.filter((v) => v.version > version && v.state !== 'revoked').at(-1);
      if (newest) replacement = { version: newest.version, kid: ring.kidOf(newest.version) };
    } else {
      await this.keys.refreshRing(ring);
    }
    await this.state.publishChange(ring.name).catch(() => undefined);
    void this.webhooks.notify(ring, 'key.revoked', { version, kid, reason, ...(replacement ? { replacement } : {}) });
    return { version, kid, replacement };
  }
}
