// Key events (rotated, revoked) pushed to configured URLs. The body is a JWT signed by Signet
// itself, so a receiver verifies it with the same JWKS it already trusts: no shared secret.
import type { Logger } from 'pino';
import type { WebhookConfig } from './config-schema.js';
import { eventAudience } from './gateway-audiences.js';
import { newJti } from './jose/jti.js';
import type { KeyRing } from './keyring/keyring.js';

export type WebhookEvent = 'key.rotated' | 'key.revoked' | 'key.integrity';
export const WEBHOOK_TYP = 'signet-event+jwt';

export interface Delivery {
  url: string;
  event: WebhookEvent;
  delivered: boolean;
  attempts: number;
}

/**
 * How long an event waits for its ring to be able to sign it. Right after a revocation or an
 * integrity event nothing may sign until the replacement does (usually within a refresh); that
 * wait is not a delivery attempt, or the events that matter most would be the ones dropped.
 */
const SIGNER_WAIT_MS = 5 * 60_000;
const SIGNER_POLL_MAX_MS = 5_000;

export class WebhookNotifier {
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  constructor(
    private readonly hooks: readonly WebhookConfig[],
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Signs one event per hook (aud = the hook's URL) and delivers it with retries; never throws. */
  notify(ring: KeyRing, event: WebhookEvent, data: Record<string, unknown>): Promise<Delivery[]> {
    const targets = this.hooks.filter((hook) => hook.events.includes(event));
    return Promise.all(targets.map((hook) => this.deliver(hook, ring, event, data)));
  }

  private async deliver(hook: WebhookConfig, ring: KeyRing, event: WebhookEvent, data: Record<string, unknown>): Promise<Delivery> {
    const jti = newJti(); // one event, however many attempts: receivers de-duplicate on it
    const body = await this.signEvent(hook, ring, event, { jti, event, ring: ring.name, ...data });
    for (let attempt = 1; body !== undefined && attempt <= hook.attempts && !this.closed; attempt++) {
      try {
        const response = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/jwt', 'user-agent': 'signet-webhook' },
          body,
          signal: AbortSignal.timeout(hook.timeoutMs),
        });
        if (response.ok) {
          this.logger.info({ url: hook.url, event, attempt }, 'webhook delivered');
          return { url: hook.url, event, delivered: true, attempts: attempt };
        }
        this.logger.warn({ url: hook.url, event, attempt, status: response.status }, 'webhook rejected');
      } catch (error) {
        this.logger.warn({ url: hook.url, event, attempt, err: (error as Error).message }, 'webhook delivery failed');
      }
      if (attempt < hook.attempts) await this.sleep(hook.initialBackoffMs * 2 ** (attempt - 1));
    }
    if (!this.closed) this.logger.error({ url: hook.url, event }, 'webhook given up');
    return { url: hook.url, event, delivered: false, attempts: body === undefined ? 0 : hook.attempts };
  }

  /**
   * The event as a JWT, signed as soon as the ring can sign (see SIGNER_WAIT_MS); undefined when
   * it could not within that time or the notifier closed.
   */
  private async signEvent(hook: WebhookConfig, ring: KeyRing, event: WebhookEvent, data: Record<string, unknown>): Promise<string | undefined> {
    const started = this.clock();
    for (let delay = hook.initialBackoffMs; !this.closed; delay = Math.min(delay * 2, SIGNER_POLL_MAX_MS)) {
      try {
        const now = Math.floor(this.clock() / 1000);
        // aud in the urn:signet: namespace no client may request, typ no client token carries:
        // a receiver that checks either can never be handed a caller's token as an event.
        const claims = { iss: ring.config.issuer, aud: eventAudience(hook.url), iat: now, exp: now + 3600, ...data };
        return (await ring.signJws(claims, WEBHOOK_TYP)).token;
      } catch (error) {
        if (this.clock() - started >= SIGNER_WAIT_MS) {
          this.logger.error({ url: hook.url, event, ring: ring.name, err: (error as Error).message }, `webhook event could not be signed within ${SIGNER_WAIT_MS / 1000} s`);
          return undefined;
        }
        this.logger.info({ url: hook.url, event, ring: ring.name, err: (error as Error).message }, 'webhook event waits for a version that may sign');
        await this.sleep(delay);
      }
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.timers.set(timer, resolve);
    });
  }

  close(): void {
    this.closed = true;
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve(); // the delivery loop sees `closed` and stops
    }
    this.timers.clear();
  }
}
