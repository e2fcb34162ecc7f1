// A Kubernetes-shaped token issuer on loopback: its own OIDC discovery document and JWKS, RS256
// keys it can rotate, and tokens shaped like projected service-account tokens. Also the forgeries
// a verifier must refuse (alg none, HS256 keyed with the public key).
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export interface MintOptions {
  namespace?: string;
  serviceAccount?: string;
  audience?: string | string[];
  /** Seconds from now (negative: already expired). */
  expiresIn?: number;
  /** Seconds ago the token was issued. */
  issuedAgo?: number;
  /** Seconds from now until the token becomes valid (nbf). */
  notBeforeIn?: number;
  issuer?: string;
  kid?: string;
  extra?: Record<string, unknown>;
}

export class TestIssuer {
  private keys: IssuerKey[] = [];
  private signing!: IssuerKey;
  /** How many times the JWKS was fetched. */
  jwksFetches = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly defaultAudience: string,
  ) {}

  static async start(defaultAudience = 'signet'): Promise<TestIssuer> {
    const started: { issuer?: TestIssuer } = {};
    const server = createServer((request, response) => {
      const issuer = started.issuer;
      const send = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (!issuer) return send(503, {});
      if (request.url === '/.well-known/openid-configuration') {
        // What kube-apiserver serves (service-account-issuer-discovery).
        return send(200, { issuer: issuer.url, jwks_uri: `${issuer.url}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] });
      }
      if (request.url === '/openid/v1/jwks') {
        issuer.jwksFetches += 1;
        return send(200, { keys: issuer.keys.map((key) => key.publicJwk) });
      }
      send(404, {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    const issuer = new TestIssuer(server, `http://127.0.0.1:${address.port}`, defaultAudience);
    await issuer.rotate();
    started.issuer = issuer;
    return issuer;
  }

  /** A new signing key, published next to the old ones (`dropOld` unpublishes them). */
  async rotate({ dropOld = false } = {}): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID();
    const key = { kid, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
    this.keys = dropOld ? [key] : [...this.keys, key];
    this.signing = key;
    return kid;
  }

  get signingKid(): string {
    return this.signing.kid;
  }

  private claims(options: MintOptions): Record<string, unknown> {
    const namespace = options.namespace ?? 'orders';
    const serviceAccount = options.serviceAccount ?? 'api';
    const now = Math.floor(Date.now() / 1000);
    const iat = now - (options.issuedAgo ?? 0);
    return {
      iss: options.issuer ?? this.url,
      sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
      aud: options.audience ?? [this.defaultAudience],
      iat,
      nbf: options.notBeforeIn === undefined ? iat : now + options.notBeforeIn,
      exp: now + (options.expiresIn ?? 600),
      'kubernetes.io': { namespace, pod: { name: `${serviceAccount}-7d9f8`, uid: randomUUID() }, serviceaccount: { name: serviceAccount, uid: randomUUID() } },
      ...options.extra,
    };
  }

  /** A projected service-account token. */
  async mint(options: MintOptions = {}): Promise<string> {
    const key = options.kid ? this.keys.find((k) => k.kid === options.kid) : this.signing;
    if (!key) throw new Error(`no key ${options.kid}`);
    return new SignJWT(this.claims(options)).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
  }

  /** Signed by a key this issuer never published, under a kid it does not know. */
  async mintWithUnknownKey(options: MintOptions = {}): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    return new SignJWT(this.claims(options)).setProtectedHeader({ alg: 'RS256', kid: randomUUID() }).sign(privateKey);
  }

  /** An unsecured JWT (alg none) with valid-looking claims. */
  mintUnsigned(options: MintOptions = {}): string {
    const encode = (value: unknown): string => base64url.encode(JSON.stringify(value));
    return `${encode({ alg: 'none', kid: this.signing.kid })}.${encode(this.claims(options))}.`;
  }

  /** Alg confusion: HS256 with the provider's public key (SPKI PEM) as the HMAC secret. */
  async mintHs256WithPublicKey(options: MintOptions = {}): Promise<string> {
    const secret = new TextEncoder().encode(await exportSPKI(this.signing.publicKey));
    return new SignJWT(this.claims(options)).setProtectedHeader({ alg: 'HS256', kid: this.signing.kid }).sign(secret);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
