// The two algs the bench compares, with the names every server uses for them.

export interface BenchAlg {
  alg: 'ES256' | 'RS256';
  /** Transit key type and the key name shared by direct Transit calls and the vault gateway. */
  transitType: 'ecdsa-p256' | 'rsa-2048';
  transitKey: string;
  /** Extra Transit sign parameters beyond input/key_version/marshaling/hash. */
  signExtras: Record<string, string>;
  /** Gateway ring name (both gateways) and the client allowed only that ring. */
  ring: string;
  /** OpenBao identity OIDC key and role for the peer scenario. */
  oidcKey: string;
  oidcRole: string;
}

export const BENCH_ALGS: readonly BenchAlg[] = [
  { alg: 'ES256', transitType: 'ecdsa-p256', transitKey: 'signet-bench-es256', signExtras: {}, ring: 'es256', oidcKey: 'bench-es256', oidcRole: 'bench-es256' },
  { alg: 'RS256', transitType: 'rsa-2048', transitKey: 'signet-bench-rs256', signExtras: { signature_algorithm: 'pkcs1v15' }, ring: 'rs256', oidcKey: 'bench-rs256', oidcRole: 'bench-rs256' },
];

/** The request body of every POST /v1/tokens in the bench. */
export const TOKEN_REQUEST = { audience: 'https://api.bench', subject: 'svc-bench', claims: { scope: 'read' } } as const;
