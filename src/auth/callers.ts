// Who is calling: the one client that an API key, a workload token, a client certificate, a client
// secret or a client assertion identifies. Exactly one client must match, or the request is
// refused. The running set of clients and providers is swapped whole on reload: a request keeps
// the set it started with, and clients that did not change never see the swap.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { FastifyRequest } from 'fastify';
import { PROVIDER_ALGS, type ClaimLimits, type ClientConfig, type ClientIdentity, type IdentityProviderConfig, type RingConfig } from '../config-schema.js';
import { SubjectNotAllowedError, UnauthenticatedError } from '../errors.js';
import { bearerCredential, findByKeyHash, presentedKeyHash } from '../tokens/api-keys.js';
import { ClientPolicy, type AuthorisedRequest, type TokenRequest } from '../tokens/policy.js';
import { AssertionReplayCache, MAX_ASSERTION_LIFETIME_MS } from './assertion-replay.js';
import { AuthMetrics } from './auth-metrics.js';
import { peerCertificate, type PeerCertificate } from './certificates.js';
import { joseFetchOption, PROVIDER_FETCH_TIMEOUT_MS, providerFetch } from './provider-fetch.js';
import { compileTextPattern, type Matcher } from '../tokens/glob.js';
import { ProviderSet, type VerifiedIdentity } from './providers.js';
import type { Registry } from 'prom-client';

/** How the caller proved who it is; recorded in the audit record of every token. */
export type AuthMethod =
  | 'api_key'
  | 'workload_token'
  | 'client_certificate'
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'subject_token';

export interface CallerAuth {
  method: AuthMethod;
  /** The identity provider that vouched for the caller. */
  provider?: string;
  /** The identity that matched: the workload token's sub, or the certificate SAN. */
  identity?: string;
}

export interface Caller {
  name: string;
  config: ClientConfig;
  policy: ClientPolicy;
  auth: CallerAuth;
  /** Claims of the proven identity (a certificate's `sub` is its matched SAN), for subject_from. */
  identityClaims?: Readonly<Record<string, unknown>>;
}

const NO_IDENTITY: ClientIdentity = { identities: [], certificates: [], accessTokenFormat: 'jwt' };
const JWT = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 16_384;
const ASSERTION_SKEW = '30s';

/** A value from a request, safe to put in a message: quoted, and cut short. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

interface ClientEntry {
  config: ClientConfig;
  identity: ClientIdentity;
  policy: ClientPolicy;
  keyHash?: Buffer;
  identities: Array<{ provider: string; claims: Array<[string, Matcher]> }>;
  certificates: Array<{ san: 'uri' | 'dns'; matches: Matcher }>;
  assertionKeys?: JWTVerifyGetKey;
  assertionKeysSource?: string;
}

/** One immutable generation of clients and providers. */
/** The parts of the config that say who the callers are (reloaded together). */
export interface CallerConfig {
  clients: readonly ClientConfig[];
  rings: ReadonlyMap<string, RingConfig>;
  identityProviders: readonly IdentityProviderConfig[];
  claimLimits: ClaimLimits;
}

export class CallerSet {
  readonly providers: ProviderSet;
  private readonly entries: ClientEntry[];
  private readonly byName: ReadonlyMap<string, ClientEntry>;
  private readonly keyHashes: Array<{ hash: Buffer; value: ClientEntry }>;

  constructor(
    { clients, rings, identityProviders: providers, claimLimits }: CallerConfig,
    private readonly replay: AssertionReplayCache,
    private readonly clock: () => number,
    previous?: CallerSet,
  ) {
    this.providers = new ProviderSet(providers, clock, previous?.providers);
    const previousKeys = new Map((previous?.entries ?? []).filter((e) => e.assertionKeysSource).map((e) => [e.assertionKeysSource!, e.assertionKeys!]));
    this.entries = clients.map((config) => {
      const identity = config.identity ?? NO_IDENTITY;
      const source = identity.jwksUri ?? (identity.jwks ? JSON.stringify(identity.jwks) : undefined);
      return {
        config,
        identity,
        policy: new ClientPolicy(config, rings, claimLimits),
        keyHash: config.apiKeySha256 ? Buffer.from(config.apiKeySha256, 'hex') : undefined,
        identities: identity.identities.map((m) => ({ provider: m.provider, claims: Object.entries(m.claims).map(([claim, pattern]) => [claim, compileTextPattern(pattern)] as [string, Matcher]) })),
        certificates: identity.certificates.map((c) => ({ san: c.san, matches: compileTextPattern(c.pattern) })),
        assertionKeys: source ? (previousKeys.get(source) ?? assertionKeySet(identity)) : undefined,
        assertionKeysSource: source,
      };
    });
    this.byName = new Map(this.entries.map((entry) => [entry.config.name, entry]));
    this.keyHashes = this.entries.filter((entry) => entry.keyHash).map((entry) => ({ hash: entry.keyHash!, value: entry }));
  }

  private caller(entry: ClientEntry, auth: CallerAuth, identityClaims?: Record<string, unknown>): Caller {
    return { name: entry.config.name, config: entry.config, policy: entry.policy, auth, ...(identityClaims ? { identityClaims } : {}) };
  }

  /** `Authorization: Bearer <api key>`: compared as SHA-256 in constant time against every client's key. */
  fromApiKey(authorization: string | undefined): Caller {
    const entry = findByKeyHash(this.keyHashes, presentedKeyHash(authorization, 'API'));
    if (!entry) throw new UnauthenticatedError('unknown API key');
    return this.caller(entry, { method: 'api_key' });
  }

  /** OAuth client_secret_basic/post: client_id is the client's name, the secret its API key. */
  fromSecret(clientId: string, secret: string, method: 'client_secret_basic' | 'client_secret_post'): Caller {
    const presented = createHash('sha256').update(secret).digest();
    const entry = this.byName.get(clientId);
    // Compare even for an unknown client, so the answer takes as long either way.
    const matches = timingSafeEqual(entry?.keyHash ?? Buffer.alloc(32), presented) && entry?.keyHash !== undefined;
    if (!entry || !matches) throw new UnauthenticatedError('unknown client or wrong client secret');
    return this.caller(entry, { method });
  }

  /** A workload token from a trusted provider, matched to exactly one client by its claims. */
  async fromWorkloadToken(token: string, method: AuthMethod = 'workload_token'): Promise<Caller> {
    if (token.length > MAX_TOKEN_LENGTH) throw new UnauthenticatedError(`the identity token is longer than ${MAX_TOKEN_LENGTH} characters`);
    return this.matchIdentity(await this.providers.verify(token), method);
  }

  matchIdentity(verified: VerifiedIdentity, method: AuthMethod): Caller {
    const { claims, provider } = verified;
    const matched = this.entries.filter((entry) =>
      entry.identities.some((m) => m.provider === provider && m.claims.every(([claim, matches]) => typeof claims[claim] === 'string' && matches(claims[claim] as string))),
    );
    const identity = String(claims.sub);
    const entry = exactlyOne(matched, (e) => e.config.name, `identity ${quoted(identity)} of provider "${provider}"`);
    return this.caller(entry, { method, provider, identity }, claims);
  }

  /** A verified client certificate whose URI or DNS SAN matches exactly one client. */
  fromCertificate(peer: PeerCertificate, method: AuthMethod = 'client_certificate'): Caller {
    if (!peer.authorized) throw new UnauthenticatedError(`the client certificate was refused: ${peer.error ?? 'not verified'} (it must be valid now and issued by server.tls.client_ca_file)`);
    const sans = [...peer.uris.map((value) => ({ san: 'uri', value })), ...peer.dnsNames.map((value) => ({ san: 'dns', value }))];
    const found = this.certificateMatches(sans);
    const match = exactlyOne(found, (m) => m.entry.config.name, `the client certificate (SANs ${sans.map((s) => quoted(s.value)).join(', ') || 'none'})`);
    return this.caller(match.entry, { method, identity: match.value }, { sub: match.value });
  }

  private certificateMatches(sans: Array<{ san: string; value: string }>): Array<{ entry: ClientEntry; value: string }> {
    const found: Array<{ entry: ClientEntry; value: string }> = [];
    for (const entry of this.entries) {
      const hit = sans.find((s) => entry.certificates.some((c) => c.san === s.san && c.matches(s.value)));
      if (hit) found.push({ entry, value: hit.value });
    }
    return found;
  }

  /**
   * RFC 7523 client assertion: signed by a trusted provider (a workload token used as the client
   * credential), or by the client's own registered keys with iss = sub = client_id.
   */
  async fromClientAssertion(assertion: string, clientId: string | undefined, audiences: string[]): Promise<Caller> {
    if (assertion.length > MAX_TOKEN_LENGTH) throw new UnauthenticatedError('the client assertion is too long');
    const issuer = ProviderSet.issuerOf(assertion);
    if (issuer !== undefined && this.providers.has(issuer)) {
      const caller = await this.fromWorkloadToken(assertion, 'private_key_jwt');
      if (clientId !== undefined && clientId !== caller.name) throw new UnauthenticatedError(`the client assertion identifies client "${caller.name}", not ${quoted(clientId)}`);
      return caller;
    }
    const name = clientId ?? issuer;
    const entry = name === undefined ? undefined : this.byName.get(name);
    if (!entry?.assertionKeys) throw new UnauthenticatedError(`the client assertion's issuer is neither a trusted identity provider nor a client with registered keys (jwks or jwks_uri)`);
    try {
      const { payload } = await jwtVerify(assertion, entry.assertionKeys, {
        issuer: entry.config.name,
        subject: entry.config.name,
        audience: audiences,
        algorithms: [...PROVIDER_ALGS],
        clockTolerance: ASSERTION_SKEW,
        requiredClaims: ['exp', 'jti'],
        currentDate: new Date(this.clock()),
      });
      const expiresAtMs = payload.exp! * 1000;
      if (expiresAtMs - this.clock() > MAX_ASSERTION_LIFETIME_MS) throw new UnauthenticatedError(`client assertions must expire within ${MAX_ASSERTION_LIFETIME_MS / 1000} s`);
      if (!this.replay.firstUse(entry.config.name, String(payload.jti), expiresAtMs, this.clock())) throw new UnauthenticatedError('the client assertion was already used (jti)');
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw error;
      const reason = error instanceof joseErrors.JOSEError ? error.code : 'unverifiable';
      throw new UnauthenticatedError(`the client assertion of client "${entry.config.name}" was refused (${reason})`);
    }
    return this.caller(entry, { method: 'private_key_jwt', identity: entry.config.name });
  }

  /** tls_client_auth (RFC 8705): the certificate must identify the client named by client_id. */
  fromTlsClientAuth(peer: PeerCertificate, clientId: string): Caller {
    const caller = this.fromCertificate(peer, 'tls_client_auth');
    if (caller.name !== clientId) throw new UnauthenticatedError(`the client certificate identifies client "${caller.name}", not ${quoted(clientId)}`);
    return caller;
  }

  /** A bearer credential and a client certificate on one request must not name two clients. */
  checkCertificateAgrees(caller: Caller, peer: PeerCertificate | undefined): void {
    if (!peer?.authorized) return;
    const sans = [...peer.uris.map((value) => ({ san: 'uri', value })), ...peer.dnsNames.map((value) => ({ san: 'dns', value }))];
    const others = this.certificateMatches(sans).filter((m) => m.entry.config.name !== caller.name);
    if (others.length > 0) throw new UnauthenticatedError(`the bearer credential identifies client "${caller.name}" but the client certificate identifies "${others[0]!.entry.config.name}"`);
  }
}

function exactlyOne<T>(found: T[], nameOf: (item: T) => string, what: string): T {
  if (found.length === 1) return found[0]!;
  if (found.length === 0) throw new UnauthenticatedError(`${what} matches no client`);
  throw new UnauthenticatedError(`${what} matches several clients (${found.map(nameOf).join(', ')}); it must match exactly one`);
}

function assertionKeySet(identity: ClientIdentity): JWTVerifyGetKey | undefined {
  if (identity.jwks) return createLocalJWKSet(identity.jwks as Parameters<typeof createLocalJWKSet>[0]);
  if (identity.jwksUri) return createRemoteJWKSet(new URL(identity.jwksUri), { timeoutDuration: PROVIDER_FETCH_TIMEOUT_MS, ...joseFetchOption(providerFetch(undefined)) });
  return undefined;
}

/** The running clients, swapped whole on reload; its generation is the `signet_config_generation` metric. */
export class CallerDirectory {
  private set: CallerSet;
  private generationNumber = 1;
  private readonly replay = new AssertionReplayCache();
  readonly metrics: AuthMetrics;

  constructor(
    config: CallerConfig,
    registry: Registry,
    private readonly clock: () => number = Date.now,
  ) {
    this.set = new CallerSet(config, this.replay, clock);
    this.metrics = new AuthMetrics(registry);
    this.metrics.configGeneration.set(this.generationNumber);
  }

  get current(): CallerSet {
    return this.set;
  }

  get generation(): number {
    return this.generationNumber;
  }

  /** Applies a new, already validated config's clients and providers in one step. */
  replace(config: CallerConfig): number {
    this.set = new CallerSet(config, this.replay, this.clock, this.set);
    this.generationNumber += 1;
    this.metrics.configGeneration.set(this.generationNumber);
    return this.generationNumber;
  }

  /** POST /v1/tokens: a bearer API key or workload token, or else the connection's client certificate. */
  async authenticate(request: FastifyRequest): Promise<Caller> {
    const set = this.set;
    const peer = peerCertificate(request);
    const authorization = request.headers.authorization;
    if (authorization === undefined) {
      if (!peer) throw new UnauthenticatedError('send an API key or a workload token as "Authorization: Bearer <…>", or connect with a client certificate');
      return set.fromCertificate(peer);
    }
    const credential = bearerCredential(authorization);
    const caller = credential !== undefined && JWT.test(credential) ? await set.fromWorkloadToken(credential) : set.fromApiKey(authorization);
    set.checkCertificateAgrees(caller, peer);
    return caller;
  }

  /**
   * The client's policy, with the subject bound to the caller's identity when the client says
   * `subject_from`: a workload can then never ask for another workload's subject.
   */
  authorise(caller: Caller, request: TokenRequest): AuthorisedRequest {
    const claim = caller.config.identity?.subjectFrom;
    if (!claim || !caller.identityClaims) return caller.policy.authorise(request);
    const bound = caller.identityClaims[claim];
    if (typeof bound !== 'string' || bound.length === 0) {
      throw new SubjectNotAllowedError(`client "${caller.name}" takes its subject from the identity's "${claim}" claim (subject_from), and this identity has none`);
    }
    if (request.subject !== undefined && request.subject !== bound) {
      throw new SubjectNotAllowedError(`client "${caller.name}" may only issue tokens for its own identity ${quoted(bound)} (subject_from: ${claim})`);
    }
    return { ...caller.policy.authorise({ ...request, subject: undefined }), subject: bound };
  }
}
