// One token for one authorised request, the same way whichever route asked (POST /v1/tokens,
// POST /oauth2/token): one end-to-end deadline, the per-ring bound on signs in progress, the
// metrics, and the audit record handed to the OS before the token is handed back.
import type { Context } from '@opentelemetry/api';
import type { KeyService } from '../keyring/key-service.js';
import type { Clock } from '../clock.js';
import type { AuditLog, TokenAuditRecord } from '../observability/audit.js';
import type { Metrics } from '../observability/metrics.js';
import { ATTR, errorCode, failSpan, SPAN, startSpan, tracing, withSpan } from '../observability/tracing.js';
import { Deadline } from '../resilience/deadline.js';
import type { SignGate } from '../resilience/sign-gate.js';
import { issueToken, type IssuedToken, type TokenContent } from './issue.js';
import type { AuthorisedRequest } from './policy.js';

/** Who asked, for the audit record. */
export type Requester = Pick<TokenAuditRecord, 'client' | 'client_address' | 'request_id' | 'auth' | 'grant_type'>;

export interface TokenIssuerOptions {
  keys: KeyService;
  signGate: SignGate;
  metrics: Metrics;
  audit: AuditLog;
  clock: Clock;
  deadlineMs: number;
}

type Counters = { signSeconds: ReturnType<Metrics['signDuration']['labels']>; issued: ReturnType<Metrics['tokensIssued']['labels']> };

export class TokenIssuer {
  // Label lookups hash their label object on every call; bind each (ring, client) pair once.
  private readonly counters = new Map<string, Counters>();

  constructor(private readonly options: TokenIssuerOptions) {}

  private countersFor(ring: string, backend: string, client: string): Counters {
    const key = `${ring}\u0000${client}`;
    let entry = this.counters.get(key);
    if (!entry) {
      const { metrics } = this.options;
      entry = { signSeconds: metrics.signDuration.labels(ring, backend), issued: metrics.tokensIssued.labels(ring, client) };
      this.counters.set(key, entry);
    }
    return entry;
  }

  /** `trace`: the request's SERVER span context, when tracing is on; the issue span becomes its child. */
  async issue(authorised: AuthorisedRequest & Pick<TokenContent, 'typ'>, requester: Requester, trace?: Context): Promise<IssuedToken> {
    if (!tracing.on) return this.signAndAudit(authorised, requester);
    const ring = this.options.keys.ring(authorised.ring);
    // Names, never values: no token, claim, subject or audience goes on a span.
    const span = startSpan(SPAN.tokenIssue, { [ATTR.ring]: ring.name, [ATTR.alg]: ring.config.alg, [ATTR.client]: requester.client, [ATTR.backend]: ring.backend.kind }, trace);
    try {
      const issued = await this.signAndAudit(authorised, requester, withSpan(span, trace));
      span.setAttributes({ [ATTR.version]: issued.version, [ATTR.kid]: issued.kid });
      return issued;
    } catch (error) {
      failSpan(span, errorCode(error));
      throw error;
    } finally {
      span.end();
    }
  }

  private async signAndAudit(authorised: AuthorisedRequest & Pick<TokenContent, 'typ'>, requester: Requester, trace?: Context): Promise<IssuedToken> {
    const { keys, signGate, audit, clock, deadlineMs } = this.options;
    const ring = keys.ring(authorised.ring);
    const started = process.hrtime.bigint();
    // One deadline for the whole request: a stalled backend answers 503 in time, never a hang.
    const deadline = Deadline.after(deadlineMs);
    let issued: IssuedToken;
    try {
      const call = { deadline, requestId: requester.request_id, trace };
      issued = await signGate.run(ring.name, () => deadline.race(issueToken(ring, authorised, clock(), call)));
    } finally {
      deadline.dispose();
    }
    const counters = this.countersFor(ring.name, ring.backend.kind, requester.client);
    counters.signSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    // The record is with the OS before the token leaves: concurrent tokens share one write.
    await audit.tokenIssued({
      jti: issued.jti,
      iat: issued.issuedAt,
      exp: issued.expiresAt,
      sub: authorised.subject,
      aud: authorised.audience,
      ring: ring.name,
      kid: issued.kid,
      ...requester,
    });
    counters.issued.inc();
    return issued;
  }
}
