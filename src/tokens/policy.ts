// Who is calling, and what their policy lets them ask for. Every rejection is a typed error
// with a stable code; nothing here trusts the request body's shape beyond the route schema.
import { RESERVED_AUDIENCE_PREFIX } from '../gateway-audiences.js';
import type { ClientConfig, RingConfig } from '../config-schema.js';
import { checkClaims, DEFAULT_CLAIM_LIMITS } from './claims.js';
import type { ClaimLimits } from '../config-schema.js';
import { canonicalUrl, compileAudiencePattern, compileTextPattern, isUrlPattern, type Matcher } from './glob.js';
import { checkText } from './text.js';
import {
  AudienceNotAllowedError,
  AudienceReservedError,
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


export class ClientPolicy {
  readonly name: string;
  private readonly audiences: Matcher[];
  private readonly subjects: Matcher[];
  private readonly anyRing: boolean;
  private readonly rings: ReadonlySet<string>;
  private readonly anyClaim: boolean;
  private readonly claims: ReadonlySet<string>;

  // Authentication and rate limits live in src/auth (callers.ts, rate-limit.ts): they outlive a config reload.
  constructor(
    private readonly config: ClientConfig,
    private readonly ringConfigs: ReadonlyMap<string, RingConfig>,
    private readonly claimLimits: ClaimLimits = DEFAULT_CLAIM_LIMITS,
  ) {
    this.name = config.name;
    this.audiences = config.audiences.map(compileAudiencePattern);
    this.subjects = config.subjects.map(compileTextPattern);
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
    for (const [index, audience] of audiences.entries()) {
      checkText(audience, Array.isArray(request.audience) ? `audience[${index}]` : 'audience');
      if (audience.toLowerCase().startsWith(RESERVED_AUDIENCE_PREFIX)) {
        throw new AudienceReservedError(`audience ${JSON.stringify(audience)} is in the "${RESERVED_AUDIENCE_PREFIX}" namespace, which only the gateway's own tokens use`);
      }
      if (!this.audiences.some((matches) => matches(audience))) {
        throw new AudienceNotAllowedError(`client "${this.name}" may not issue tokens for audience ${JSON.stringify(audience)}${canonicalHint(audience)}`);
      }
    }

    // Without an explicit subject the token is about the caller itself.
    const subject = request.subject ?? this.name;
    if (request.subject !== undefined) {
      checkText(subject, 'subject');
      if (!this.subjects.some((matches) => matches(subject))) {
        throw new SubjectNotAllowedError(`client "${this.name}" may not issue tokens for subject ${JSON.stringify(subject)}`);
      }
    }

    const maxTtlMs = Math.min(this.config.maxTtlMs, ring.maxTokenTtlMs);
    const ttlMs = request.ttl_seconds === undefined ? Math.min(ring.defaultTokenTtlMs, maxTtlMs) : request.ttl_seconds * 1000;
    if (ttlMs > maxTtlMs) {
      throw new TtlTooLongError(`ttl_seconds ${request.ttl_seconds} exceeds the maximum of ${maxTtlMs / 1000} for client "${this.name}" on ring "${ringName}"`);
    }

    const claims = request.claims ?? {};
    for (const name of Object.keys(claims)) {
      checkText(name, 'a claim name');
      if (RESERVED_CLAIMS.has(name)) {
        throw new ReservedClaimError(`claim "${name}" is set by the gateway only${name === 'sub' || name === 'aud' ? ` (use the "${name === 'sub' ? 'subject' : 'audience'}" field)` : ''}`);
      }
      if (!this.anyClaim && !this.claims.has(name)) {
        throw new ClaimNotAllowedError(`client "${this.name}" may not set claim "${name}"`);
      }
    }

    checkClaims(claims, this.claimLimits);

    return { client: this.name, ring: ringName, audience: request.audience, subject, ttlMs, claims };
  }
}

// A URL audience written differently from how a parser prints it never matches a URL pattern; say so.
function canonicalHint(audience: string): string {
  const canonical = isUrlPattern(audience) ? canonicalUrl(audience) : undefined;
  if (!canonical || canonical === audience || canonical === `${audience}/`) return '';
  return ` (URL audiences must be written as a URL parser prints them: ${JSON.stringify(canonical)})`;
}

/**
 * The policy `signet token` runs under: any ring, audience, subject and non-reserved claim, but
 * the same reserved-claim, text, claim-limit and TTL checks as the API, so an operator cannot
 * mint what no client could (a chosen iss/jti/exp, a __proto__ claim, an event audience).
 */
export function operatorPolicy(rings: ReadonlyMap<string, RingConfig>, claimLimits: ClaimLimits): ClientPolicy {
  const config: ClientConfig = { name: 'signet-cli', apiKeySha256: '0'.repeat(64), rings: ['*'], audiences: ['*'], subjects: ['*'], claims: ['*'], maxTtlMs: 31 * 86400_000, rateLimitPerSecond: 0, rateLimitBurst: 0 };
  return new ClientPolicy(config, rings, claimLimits);
}
