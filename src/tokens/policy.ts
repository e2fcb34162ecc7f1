// Who is calling, and what their policy lets them ask for. Every rejection is a typed error
// with a stable code; nothing here trusts the request body's shape beyond the route schema.
import type { ClientConfig, RingConfig } from '../config/schema.js';
import {
  AudienceNotAllowedError,
  ClaimNotAllowedError,
  InvalidRequestError,
  ReservedClaimError,
  RingNotAllowedError,
  SubjectNotAllowedError,
  TtlTooLongError,
  UnknownRingError,
} from '../errors.js';

/** Claims only the gateway sets. `sub` and `aud` come from their own request fields. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'cnf']);

export interface TokenRequest {
  audience: string | string[];
  subject?: string;
  ttl_seconds?: number;
  claims?: Record<string, unknown>;
  key?: string;
}

export interface AuthorisedRequest {
  client: string;
  ring: string;
  audience: string | string[];
  subject: string;
  ttlMs: number;
  claims: Record<string, unknown>;
}

/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's');
}

export class ClientPolicy {
  readonly name: string;
  private readonly audiences: RegExp[];
  private readonly subjects: RegExp[];
  private readonly anyRing: boolean;
  private readonly rings: ReadonlySet<string>;
  private readonly anyClaim: boolean;
  private readonly claims: ReadonlySet<string>;

  // Authentication and rate limits live in src/auth (callers.ts, rate-limit.ts): they outlive a config reload.
  constructor(
    private readonly config: ClientConfig,
    private readonly ringConfigs: ReadonlyMap<string, RingConfig>,
  ) {
    this.name = config.name;
    this.audiences = config.audiences.map(globToRegExp);
    this.subjects = config.subjects.map(globToRegExp);
    this.anyRing = config.rings.includes('*');
    this.rings = new Set(config.rings);
    this.anyClaim = config.claims.includes('*');
    this.claims = new Set(config.claims);
  }

  private defaultRing(): string {
    const first = this.anyRing ? this.ringConfigs.keys().next().value : this.config.rings[0];
    if (!first) throw new RingNotAllowedError(`client "${this.name}" may not use any ring`);
    return first;
  }

  authorise(request: TokenRequest): AuthorisedRequest {
    const ringName = request.key ?? this.defaultRing();
    const ring = this.ringConfigs.get(ringName);
    if (!ring) throw new UnknownRingError(`no ring named "${ringName}"`);
    if (!this.anyRing && !this.rings.has(ringName)) {
      throw new RingNotAllowedError(`client "${this.name}" may not sign with ring "${ringName}"`);
    }

    const audiences = Array.isArray(request.audience) ? request.audience : [request.audience];
    if (audiences.length === 0) throw new InvalidRequestError('audience must name at least one audience');
    for (const audience of audiences) {
      if (!this.audiences.some((pattern) => pattern.test(audience))) {
        throw new AudienceNotAllowedError(`client "${this.name}" may not issue tokens for audience "${audience}"`);
      }
    }

    // Without an explicit subject the token is about the caller itself.
    const subject = request.subject ?? this.name;
    if (request.subject !== undefined && !this.subjects.some((pattern) => pattern.test(subject))) {
      throw new SubjectNotAllowedError(`client "${this.name}" may not issue tokens for subject "${subject}"`);
    }

    const maxTtlMs = Math.min(this.config.maxTtlMs, ring.maxTokenTtlMs);
    const ttlMs = request.ttl_seconds === undefined ? Math.min(ring.defaultTokenTtlMs, maxTtlMs) : request.ttl_seconds * 1000;
    if (ttlMs > maxTtlMs) {
      throw new TtlTooLongError(`ttl_seconds ${request.ttl_seconds} exceeds the maximum of ${maxTtlMs / 1000} for client "${this.name}" on ring "${ringName}"`);
    }

    const claims = request.claims ?? {};
    for (const name of Object.keys(claims)) {
      if (RESERVED_CLAIMS.has(name)) {
        throw new ReservedClaimError(`claim "${name}" is set by the gateway only${name === 'sub' || name === 'aud' ? ` (use the "${name === 'sub' ? 'subject' : 'audience'}" field)` : ''}`);
      }
      if (!this.anyClaim && !this.claims.has(name)) {
        throw new ClaimNotAllowedError(`client "${this.name}" may not set claim "${name}"`);
      }
    }

    return { client: this.name, ring: ringName, audience: request.audience, subject, ttlMs, claims };
  }
}
