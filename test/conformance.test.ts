// One suite, run unchanged against every backend: list, create, sign with a chosen version,
// verify every signature with jose through the JWKS the gateway serves over HTTP, typed errors
// for unknown rings and versions, and no private member in any published JWK.
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SigningBackend } from '../src/backends/backend.js';
import { GatewayError } from '../src/errors.js';
import type { JwsAlg } from '../src/jose/algorithms.js';
import { conformanceCases } from './helpers/backend-cases.js';
import { configFrom, openClient, startGateway, type RunningGateway } from './helpers/gateway.js';
import { remoteVerifier } from './helpers/verify.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

async function failure(promise: Promise<unknown>): Promise<{ code: string; status: number }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return { code: (error as GatewayError).code, status: (error as GatewayError).status };
  }
  throw new Error('expected the call to fail');
}

const cases = conformanceCases(() => ({ openbaoUrl: inject('openbaoUrl'), motoUrl: inject('motoUrl') }));

describe.each(cases)('backend conformance: $kind', (backendCase) => {
  const suffix = randomBytes(4).toString('hex');
  const ringName = (alg: JwsAlg): string => `c-${alg.toLowerCase()}`;
  const keyName = (alg: JwsAlg): string => `conf-${suffix}-${alg.toLowerCase()}`;
  let gateway: RunningGateway;
  let backend: SigningBackend;

  beforeAll(async () => {
    for (const alg of backendCase.algs) await backendCase.provision(keyName(alg), alg);
    const config = configFrom({
      backends: { under_test: backendCase.backendConfig() },
      rings: backendCase.algs.map((alg) => ({ name: ringName(alg), backend: 'under_test', key: keyName(alg), alg, issuer: 'https://issuer.test' })),
      clients: [openClient()],
    });
    gateway = await startGateway(config);
    backend = gateway.app.signet.keys.ring(ringName(backendCase.algs[0]!)).backend;
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it.each(backendCase.algs)('%s: lists versions, creates one, signs with each chosen version, verifies via the served JWKS', async (alg) => {
    const ring = gateway.app.signet.keys.ring(ringName(alg));
    const before = await backend.listVersions(ring.ref);
    expect(before.length).toBeGreaterThanOrEqual(1);
    for (const version of before) {
      expect(version.spki.length).toBeGreaterThan(30);
      expect(version.createdAt.getTime()).toBeGreaterThan(Date.UTC(2020, 0, 1));
    }

    const created = await backend.createVersion(ring.ref);
    expect(created.version).toBeGreaterThan(before.at(-1)!.version);
    const after = await backend.listVersions(ring.ref);
    expect(after.map((v) => v.version)).toEqual([...before.map((v) => v.version), created.version]);

    await gateway.app.signet.refresh.refreshRing(ring);
    expect(Object.fromEntries(ring.canaryFailures)).toEqual({}); // the gateway's own canary passed for every version
    const jwks = (await (await fetch(`${gateway.url}/rings/${ring.name}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys).toHaveLength(after.length); // the new version is published at once (pending)
    for (const jwk of jwks.keys) {
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
      expect(jwk).toMatchObject({ use: 'sig', alg });
    }

    const verifier = remoteVerifier(`${gateway.url}/rings/${ring.name}/.well-known/jwks.json`, alg);
    for (const version of after) {
      const kid = ring.kidOf(version.version)!;
      const header = Buffer.from(JSON.stringify({ alg, kid })).toString('base64url');
      const payload = Buffer.from(`conformance ${backendCase.kind} v${version.version}`).toString('base64url');
      const signature = await backend.sign(ring.ref, version.version, Buffer.from(`${header}.${payload}`));
      const jws = `${header}.${payload}.${Buffer.from(signature).toString('base64url')}`;
      expect(decodeProtectedHeader(jws).kid).toBe(kid);
      const verified = await verifier.compactVerify(jws);
      expect(Buffer.from(verified.payload).toString()).toBe(`conformance ${backendCase.kind} v${version.version}`);
    }
  });

  it('a key missing at the backend is ERR_BACKEND_KEY_MISSING and a missing version ERR_BACKEND_VERSION_MISSING, both 502', async () => {
    const alg = backendCase.algs[0]!;
    const missing = { ring: 'missing', key: `missing-${suffix}`, alg };
    expect(await failure(backend.listVersions(missing))).toEqual({ code: 'ERR_BACKEND_KEY_MISSING', status: 502 });
    expect(await failure(backend.sign(missing, 1, Buffer.from('a.b')))).toEqual({ code: 'ERR_BACKEND_KEY_MISSING', status: 502 });
    const ring = gateway.app.signet.keys.ring(ringName(alg));
    expect(await failure(backend.sign(ring.ref, 9999, Buffer.from('a.b')))).toEqual({ code: 'ERR_BACKEND_VERSION_MISSING', status: 502 });
  });

  it('health reports ok', async () => {
    expect((await backend.health()).ok).toBe(true);
  });
});
