// Trusted identity providers: workload tokens (Kubernetes projected service-account tokens, GitHub
// Actions OIDC, SPIFFE JWT-SVIDs, another Signet) verified with jose against the provider's JWKS,
// found by OIDC discovery unless given. A token is routed to its provider by `iss` alone.
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type RemoteJWKSet } from 'jose';
import { IdentityProviderUnavailableError, UnauthenticatedError } from '../errors.js';
import type { IdentityProviderConfig } from '../config-schema.js';
import { joseFetchOption, PROVIDER_FETCH_TIMEOUT_MS, providerFetch, type JsonFetch } from './provider-fetch.js';

/** A verified workload token. */
export interface VerifiedIdentity {
  provider: string;
  claims: JWTPayload;
}

/** Why jose refused a token, in words a caller can act on; anything missing here is the provider's fault (503). */
const REFUSALS: Readonly<Record<string, (error: joseErrors.JOSEError) => string>> = {
  // jose reports a token over maxTokenAge as expired, naming the iat claim.
  ERR_JWT_EXPIRED: (error) => ((error as joseErrors.JWTExpired).claim === 'iat' ? 'the token is older than the provider\'s max_token_age_seconds' : 'the token has expired'),
  ERR_JWT_CLAIM_VALIDATION_FAILED: (error) => {
    const { claim, reason } = error as joseErrors.JWTClaimValidationFailed;
    if (reason === 'missing') return `the token has no "${claim}" claim`;
    if (claim === 'iat') return 'the token is older than the provider\'s max_token_age_seconds, or issued in the future';
    if (claim === 'nbf') return 'the token is not valid yet (nbf)';
    return `the token's "${claim}" claim is not accepted`;
  },
  ERR_JWT_INVALID: () => 'the token is not a valid JWT',
  ERR_JWS_INVALID: () => 'the token is not a valid JWS',
  ERR_JOSE_ALG_NOT_ALLOWED: () => 'the token\'s alg is not accepted from this provider',
  ERR_JOSE_NOT_SUPPORTED: () => 'the token uses something this verifier does not support',
  ERR_JWKS_NO_MATCHING_KEY: () => 'no key of the provider matches the token\'s kid and alg',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: () => 'several keys of the provider match the token; it needs a kid',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: () => 'the token\'s signature does not verify',
  ERR_JWK_INVALID: () => 'the key the token names is not usable',
};

export class IdentityProvider {
  private keys?: Promise<RemoteJWKSet>;
  private readonly fetcher: JsonFetch;

  constructor(
    readonly config: IdentityProviderConfig,
    private readonly clock: () => number,
  ) {
    this.fetcher = providerFetch(config.ca);
  }

  get name(): string {
    return this.config.name;
  }

  /** Verifies signature, iss, aud, exp, nbf, age and alg; throws 401 with the reason, or 503 when the keys cannot be had. */
  async verify(token: string): Promise<VerifiedIdentity> {
    const { config } = this;
    try {
      const { payload } = await jwtVerify(token, await this.keySet(), {
        issuer: config.issuer,
        audience: config.audiences,
        algorithms: config.algorithms,
        maxTokenAge: `${config.maxTokenAgeMs / 1000}s`,
        clockTolerance: `${config.clockSkewMs / 1000}s`,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub'],
        currentDate: new Date(this.clock()),
      });
      return { provider: config.name, claims: payload };
    } catch (error) {
      const refusal = error instanceof joseErrors.JOSEError ? REFUSALS[error.code] : undefined;
      if (refusal) throw new UnauthenticatedError(`identity token from provider "${config.name}" refused: ${refusal(error as joseErrors.JOSEError)}`);
      if (error instanceof IdentityProviderUnavailableError) throw error;
      throw new IdentityProviderUnavailableError(`the keys of identity provider "${config.name}" could not be fetched; retry later`, { cause: error });
    }
  }

  private keySet(): Promise<RemoteJWKSet> {
    this.keys ??= this.findJwksUri().then(
      (uri) =>
        createRemoteJWKSet(new URL(uri), {
          timeoutDuration: PROVIDER_FETCH_TIMEOUT_MS,
          cooldownDuration: this.config.jwksCooldownMs,
          cacheMaxAge: this.config.jwksCacheMs,
          ...joseFetchOption(this.fetcher),
        }),
      (error: unknown) => {
        this.keys = undefined; // discovery is tried again by the next token
        throw error;
      },
    );
    return this.keys;
  }

  private async findJwksUri(): Promise<string> {
    if (this.config.jwksUri) return this.config.jwksUri;
    const url = `${this.config.issuer}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await this.fetcher(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(PROVIDER_FETCH_TIMEOUT_MS) });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (error) {
      throw new IdentityProviderUnavailableError(`OIDC discovery of identity provider "${this.config.name}" at ${url} failed: ${(error as Error).message}`, { cause: error });
    }
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== this.config.issuer || typeof document.jwks_uri !== 'string') {
      throw new IdentityProviderUnavailableError(`the discovery document of identity provider "${this.config.name}" names issuer ${JSON.stringify(document.issuer)} (expected ${this.config.issuer}) or has no jwks_uri`);
    }
    return document.jwks_uri;
  }
}

/** All trusted providers, by issuer. Providers whose config did not change are kept across reloads (their key cache too). */
export class ProviderSet {
  private readonly byIssuer: ReadonlyMap<string, IdentityProvider>;

  constructor(configs: readonly IdentityProviderConfig[], clock: () => number, previous?: ProviderSet) {
    const reused = new Map([...(previous?.byIssuer.values() ?? [])].map((provider) => [JSON.stringify(provider.config), provider]));
    this.byIssuer = new Map(configs.map((config) => [config.issuer, reused.get(JSON.stringify(config)) ?? new IdentityProvider(config, clock)]));
  }

  get size(): number {
    return this.byIssuer.size;
  }

  /** The issuer of a JWT-shaped string, read without verifying (only to choose the provider). */
  static issuerOf(token: string): string | undefined {
    try {
      const iss = decodeJwt(token).iss;
      return typeof iss === 'string' ? iss : undefined;
    } catch {
      return undefined;
    }
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    const issuer = ProviderSet.issuerOf(token);
    if (issuer === undefined) throw new UnauthenticatedError('the identity token is not a JWT with an iss claim');
    const provider = this.byIssuer.get(issuer);
    if (!provider) throw new UnauthenticatedError(`issuer ${JSON.stringify(issuer)} is not a trusted identity provider`);
    return provider.verify(token);
  }

  has(issuer: string): boolean {
    return this.byIssuer.has(issuer);
  }
}
