// Emergency revocation, and how every replica learns of one. The order is the promise: stop
// signing here, tell every replica (the event carries the revocation, so they stop within one
// Redis round trip), keep it durably (this replica's state_dir, Redis, the backend), and only
// then do the slow work (a replacement when nothing else may sign, a refresh, webhooks).
import type { Logger } from 'pino';
import type { RevocationRecord } from '../backends/backend.js';
import { BackendUnavailableError, UnknownVersionError } from '../errors.js';
import type { KeyService } from '../keyring/key-service.js';
import type { Clock } from '../clock.js';
import type { KeyRing } from '../keyring/keyring.js';
import { emptyLedger, type RingLedger } from '../keyring/ledger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Coordination, RingChange } from '../state/coordination.js';
import type { LedgerStore } from '../state/ledger-store.js';
import type { WebhookNotifier } from '../webhooks.js';
import type { RingRefresher } from './refresh.js';
import type { RotationController } from './rotation.js';

export interface RevocationResult {
  version: number;
  kid: string | undefined;
  /** The version that signs now, when it is not the one that signed before (the revoked one took it with it). */
  replacement?: { version: number; kid: string | undefined };
  /** Where the revocation was recorded durably, beyond this process. */
  recordedIn: string[];
  /** Nothing signs: the signing version was revoked and no replacement could be made (e.g. a token that may not rotate). */
  replacementError?: string;
}

export interface RevocationOptions {
  keys: KeyService;
  refresher: RingRefresher;
  rotation: RotationController;
  coordination: Coordination;
  durable: LedgerStore;
  shared: LedgerStore[];
  metrics: Metrics;
  logger: Logger;
  webhooks: WebhookNotifier;
  clock: Clock;
}

/** How long a revocation waits for a replacement that another replica is making. */
const REPLACEMENT_WAIT_MS = 10_000;

const revocationLedger = (record: RevocationRecord): RingLedger => ({ ...emptyLedger(), revoked: new Map([[record.version, record]]) });

export class RevocationService {
  constructor(private readonly options: RevocationOptions) {}

  /** Applies revocations announced by other replicas at once, then re-reads the ring. */
  listen(): void {
    this.options.coordination.onChange((change) => this.onChange(change));
  }

  private onChange(change: RingChange): void {
    const { keys, refresher, durable, metrics, logger, clock } = this.options;
    const ring = keys.rings.get(change.ring);
    if (!ring) return;
    if (change.revoked && ring.applyRevocation(change.revoked)) {
      metrics.revocationPropagation.observe({ ring: ring.name }, Math.max(0, clock() - change.revoked.at) / 1000);
      logger.warn({ ring: ring.name, version: change.revoked.version, reason: change.revoked.reason }, 'key version revoked by another replica');
      durable.add(ring.name, revocationLedger(change.revoked)).catch((error: unknown) => logger.warn({ err: error }, 'could not keep the revocation in state_dir; the next refresh retries'));
    }
    void refresher.refreshRing(ring).catch(() => undefined);
  }

  /**
   * When nothing may sign, makes a replacement under the rotation lock. Another replica may hold
   * the lock because it is making one (it heard the revocation too): then wait for its version.
   */
  private async ensureSigner(ring: KeyRing): Promise<string | undefined> {
    const { refresher, rotation } = this.options;
    // A wait for I/O, on a monotonic timer: not the lifecycle clock, which tests move by hours.
    const deadline = performance.now() + REPLACEMENT_WAIT_MS;
    return rotation.replacingFor(ring, async () => {
      await refresher.refreshRing(ring).catch(() => undefined);
      while (ring.current().view.signing === null && ring.current().view.rotationDue) {
        if (performance.now() >= deadline) return `no version that may sign appeared within ${REPLACEMENT_WAIT_MS / 1000} s`;
        try {
          if ((await rotation.rotateIfDue(ring, 'revocation', { throwOnError: true })) !== undefined) continue;
        } catch (error) {
          return error instanceof Error ? error.message : String(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        await refresher.refreshRing(ring).catch(() => undefined);
      }
      return undefined;
    });
  }

  async revoke(ring: KeyRing, version: number, reason: string, by: string): Promise<RevocationResult> {
    const { coordination, durable, shared, logger, webhooks, clock } = this.options;
    // A version another replica made a moment ago may not be known here yet: look again first.
    if (!ring.current().view.versions.some((v) => v.version === version)) await this.options.refresher.refreshRing(ring).catch(() => undefined);
    const before = ring.current().view;
    if (!before.versions.some((v) => v.version === version)) throw new UnknownVersionError(`ring "${ring.name}" has no version ${version}`);
    const kid = ring.kidOf(version);
    const record: RevocationRecord = { version, reason, at: clock(), by };

    // Here, at once; then every replica and every durable copy, in one round of parallel writes.
    ring.applyRevocation(record);
    const ledger = revocationLedger(record);
    const [announced, ...stored] = await Promise.allSettled([
      coordination.kind === 'redis' ? coordination.announce({ ring: ring.name, revoked: record }) : Promise.resolve(),
      durable.add(ring.name, ledger).then(() => durable.name),
      ...shared.map((store) => store.add(ring.name, ledger).then(() => store.name)),
      ring.backend.revokeVersion ? ring.backend.revokeVersion(ring.ref, record).then(() => 'backend') : Promise.resolve(undefined),
    ]);
    if (announced.status === 'rejected') logger.error({ ring: ring.name, version, err: announced.reason }, 'could not announce the revocation; other replicas apply it at their next refresh');
    const recordedIn = stored.flatMap((result) => (result.status === 'fulfilled' && result.value ? [result.value] : []));
    for (const failed of stored.filter((result): result is PromiseRejectedResult => result.status === 'rejected')) {
      logger.error({ ring: ring.name, version, err: failed.reason }, 'could not record the revocation in one of its stores; every refresh retries');
    }
    logger.warn({ ring: ring.name, version, kid, reason, by, recordedIn }, 'key version revoked');
    if (!recordedIn.includes(durable.name) && !recordedIn.includes('backend')) {
      throw new BackendUnavailableError(`version ${version} of ring "${ring.name}" stopped signing on this replica, but the revocation could not be recorded durably (state_dir and backend both failed): fix the cause and revoke again`);
    }

    // The slow part: a replacement only when nothing else may sign, then a full re-read.
    const replacementError = await this.ensureSigner(ring);
    await coordination.announce({ ring: ring.name }).catch(() => undefined);

    const signing = ring.current().view.signing;
    // Named whenever another version signs now than before: the one that replaced the revoked one.
    const replacement = signing !== null && signing !== before.signing ? { version: signing, kid: ring.kidOf(signing) } : undefined;
    void webhooks.notify(ring, 'key.revoked', { version, kid, reason, ...(replacement ? { replacement } : {}) });
    return { version, kid, replacement, recordedIn, ...(replacementError ? { replacementError } : {}) };
  }
}
