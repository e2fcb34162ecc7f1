// What is measured: each scenario is one HTTP request shape against one server. Before any load,
// each is tried once and its answer checked (tokens verify against the gateway's JWKS), so a
// benchmark of error pages cannot pass for a result.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { BENCH_ALGS, TOKEN_REQUEST, type BenchAlg } from './algs.js';
import type { Target } from './load.js';
import type { Gateway, OpenBao } from './servers.js';

export type ScenarioId = 'direct' | 'gateway-vault' | 'peer' | 'gateway-local' | 'jwks-200' | 'jwks-304' | 'trivial' | 'transit-read';

export interface Scenario {
  id: ScenarioId;
  group: 'tokens' | 'jwks';
  label: string;
  alg?: BenchAlg['alg'];
  target: Target;
  /** One-line description of what the request is, for the JSON report. */
  detail: string;
}

export const SCENARIO_LABELS: Record<ScenarioId, string> = {
  direct: '(a) direct Transit sign',
  'gateway-vault': '(b) gateway/vault',
  peer: '(c) peer: OpenBao OIDC token',
  'gateway-local': '(d) gateway/local',
  'jwks-200': '(e) gateway JWKS 200',
  'jwks-304': '(e) gateway JWKS 304',
  trivial: '(e) trivial Fastify (ceiling)',
  'transit-read': '(e) Transit key read',
};

export interface Servers {
  bao: OpenBao;
  rootToken: string;
  peerToken: string;
  vaultGateway: Gateway;
  localGateway: Gateway;
  trivialUrl: string;
}

interface Prepared {
  scenarios: Scenario[];
  /** Bytes of the JWT signing input (header.payload) per alg, as the gateway builds it. */
  signingInputBytes: Record<string, number>;
}

async function send(target: Target): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(target.url, {
    method: target.method,
    headers: target.headers,
    ...(target.body === undefined ? {} : { body: target.body }),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

async function expectOk(label: string, target: Target): Promise<string> {
  const { status, text } = await send(target);
  if (status !== target.expectStatus) throw new Error(`preflight ${label}: HTTP ${status} (expected ${target.expectStatus}): ${text.slice(0, 300)}`);
  return text;
}

/** POST /v1/tokens with the bench body, as the client allowed only `spec`'s ring. */
export function tokenTarget(gateway: Gateway, spec: BenchAlg): Target {
  return {
    method: 'POST',
    url: `${gateway.url}/v1/tokens`,
    headers: { authorization: `Bearer ${gateway.apiKeys[spec.ring]!}`, 'content-type': 'application/json' },
    body: JSON.stringify(TOKEN_REQUEST),
    expectStatus: 200,
  };
}

/** The gateway's JWKS bytes, ETag and a key set to verify its tokens with. */
export async function gatewayJwks(gateway: Gateway): Promise<{ body: Buffer; etag: string; set: ReturnType<typeof createLocalJWKSet> }> {
  const response = await fetch(`${gateway.url}/.well-known/jwks.json`);
  const body = Buffer.from(await response.arrayBuffer());
  const etag = response.headers.get('etag');
  if (response.status !== 200 || !etag) throw new Error(`preflight ${gateway.name} JWKS: HTTP ${response.status}, ETag ${etag}`);
  return { body, etag, set: createLocalJWKSet(JSON.parse(body.toString('utf8')) as JSONWebKeySet) };
}

/** Issues one token through `target` and verifies it against the gateway's own JWKS. */
async function verifiedToken(label: string, target: Target, jwks: ReturnType<typeof createLocalJWKSet>, alg: string): Promise<string> {
  const { token } = JSON.parse(await expectOk(label, target)) as { token: string };
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { audience: TOKEN_REQUEST.audience, algorithms: [alg] });
  if (payload.sub !== TOKEN_REQUEST.subject || payload.scope !== 'read') throw new Error(`preflight ${label}: unexpected claims ${JSON.stringify(payload)}`);
  if (protectedHeader.alg !== alg) throw new Error(`preflight ${label}: alg ${protectedHeader.alg}`);
  return token;
}

export async function prepareScenarios(servers: Servers): Promise<Prepared> {
  const { bao, vaultGateway, localGateway } = servers;
  const vaultJwks = await gatewayJwks(vaultGateway);
  const localJwks = await gatewayJwks(localGateway);
  const scenarios: Scenario[] = [];
  const signingInputBytes: Record<string, number> = {};

  for (const spec of BENCH_ALGS) {
    const viaVault = tokenTarget(vaultGateway, spec);
    const viaLocal = tokenTarget(localGateway, spec);
    const sample = await verifiedToken(`gateway/vault ${spec.alg}`, viaVault, vaultJwks.set, spec.alg);
    await verifiedToken(`gateway/local ${spec.alg}`, viaLocal, localJwks.set, spec.alg);

    // Direct: the exact signing input the gateway sends Transit (header.payload of a real token).
    const signingInput = sample.slice(0, sample.lastIndexOf('.'));
    signingInputBytes[spec.alg] = signingInput.length;
    const direct: Target = {
      method: 'POST',
      url: `${bao.url}/v1/transit/sign/${spec.transitKey}`,
      headers: { 'x-vault-token': servers.rootToken, 'content-type': 'application/json' },
      body: JSON.stringify({
        input: Buffer.from(signingInput).toString('base64'),
        key_version: 1,
        marshaling_algorithm: 'jws',
        hash_algorithm: 'sha2-256',
        ...spec.signExtras,
      }),
      expectStatus: 200,
    };
    // The direct signature over the gateway's signing input must verify as that same JWT.
    const signed = JSON.parse(await expectOk(`direct ${spec.alg}`, direct)) as { data: { signature: string } };
    const signature = /^vault:v1:(.+)$/.exec(signed.data.signature)?.[1];
    await jwtVerify(`${signingInput}.${signature}`, vaultJwks.set, { algorithms: [spec.alg] }).catch((error: unknown) => {
      throw new Error(`preflight direct ${spec.alg}: Transit's signature does not verify: ${(error as Error).message}`);
    });

    const peer: Target = {
      method: 'GET',
      url: `${bao.url}/v1/identity/oidc/token/${spec.oidcRole}`,
      headers: { 'x-vault-token': servers.peerToken },
      expectStatus: 200,
    };
    const peerToken = (JSON.parse(await expectOk(`peer ${spec.alg}`, peer)) as { data: { token: string } }).data.token;
    if (decodeProtectedHeader(peerToken).alg !== spec.alg) throw new Error(`preflight peer ${spec.alg}: OpenBao signed with ${decodeProtectedHeader(peerToken).alg}`);

    scenarios.push(
      { id: 'direct', group: 'tokens', label: SCENARIO_LABELS.direct, alg: spec.alg, target: direct, detail: `POST /v1/transit/sign/${spec.transitKey} (root token, ${signingInput.length}-byte signing input)` },
      { id: 'gateway-vault', group: 'tokens', label: SCENARIO_LABELS['gateway-vault'], alg: spec.alg, target: viaVault, detail: 'POST /v1/tokens, vault-transit backend' },
      { id: 'peer', group: 'tokens', label: SCENARIO_LABELS.peer, alg: spec.alg, target: peer, detail: `GET /v1/identity/oidc/token/${spec.oidcRole} (userpass token with an entity)` },
      { id: 'gateway-local', group: 'tokens', label: SCENARIO_LABELS['gateway-local'], alg: spec.alg, target: viaLocal, detail: 'POST /v1/tokens, local backend' },
    );
  }

  const jwks200: Target = { method: 'GET', url: `${vaultGateway.url}/.well-known/jwks.json`, headers: {}, expectStatus: 200 };
  const jwks304: Target = { ...jwks200, headers: { 'if-none-match': vaultJwks.etag }, expectStatus: 304 };
  const trivial: Target = { method: 'GET', url: `${servers.trivialUrl}/.well-known/jwks.json`, headers: {}, expectStatus: 200 };
  const readKey = BENCH_ALGS[0]!.transitKey;
  const transitRead: Target = { method: 'GET', url: `${bao.url}/v1/transit/keys/${readKey}`, headers: { 'x-vault-token': servers.rootToken }, expectStatus: 200 };
  await expectOk('gateway JWKS 304', jwks304);
  const trivialBody = await expectOk('trivial', trivial);
  if (Buffer.byteLength(trivialBody) !== vaultJwks.body.length) throw new Error('preflight trivial: body differs in size from the gateway JWKS');
  await expectOk('transit read', transitRead);
  scenarios.push(
    { id: 'jwks-200', group: 'jwks', label: SCENARIO_LABELS['jwks-200'], target: jwks200, detail: `GET /.well-known/jwks.json on the vault gateway (${vaultJwks.body.length} bytes)` },
    { id: 'jwks-304', group: 'jwks', label: SCENARIO_LABELS['jwks-304'], target: jwks304, detail: 'the same with If-None-Match: <its ETag>' },
    { id: 'trivial', group: 'jwks', label: SCENARIO_LABELS.trivial, target: trivial, detail: 'bench/trivial-server.ts: a constant body of the same bytes' },
    { id: 'transit-read', group: 'jwks', label: SCENARIO_LABELS['transit-read'], target: transitRead, detail: `GET /v1/transit/keys/${readKey} (root token)` },
  );
  return { scenarios, signingInputBytes };
}
