// OpenTelemetry tracing, end to end: a gateway process started as `signet serve` with the standard
// OTEL_* variables exports over OTLP/HTTP to a receiver this test runs, signing through the real
// OpenBao. The caller's traceparent is the parent of the SERVER span; under it the token issue
// span, under that the backend sign span (with its batch size) and the Vault HTTP call; a batch
// links every caller it signed for. The batch processor waits 10 minutes, so every span seen
// here left through the flush on SIGTERM.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawnGateway, type GatewayProcess } from './harness/gateway-process.js';
import { OPENBAO_ROOT_TOKEN, vaultRequest } from './harness/openbao.js';
import { openClient, requestToken, TEST_API_KEY, tempDir } from './helpers/gateway.js';
import { eventually } from './helpers/replicas.js';
import { OtlpReceiver, SPAN_KIND, STATUS_ERROR } from './helpers/otlp-receiver.js';

const openbaoUrl = inject('openbaoUrl');
const key = `signet-trace-${randomBytes(4).toString('hex')}`;
const WRONG_KEY = 'sgt_wrong-key-that-must-not-be-exported';

let receiver: OtlpReceiver;
let gateway: GatewayProcess;

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  await vaultRequest(openbaoUrl, 'POST', `transit/keys/${key}`, { type: 'ecdsa-p256' });
  gateway = await spawnGateway(
    {
      backends: { vault: { type: 'vault-transit', address: openbaoUrl, token: OPENBAO_ROOT_TOKEN } },
      rings: [{ name: 'traced', backend: 'vault', key, alg: 'ES256' }],
      clients: [openClient()],
    },
    {
      waitFor: 'readyz',
      env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '600000',
        OTEL_SERVICE_NAME: 'signet-under-test',
      },
    },
  );
}, 60_000);

afterAll(async () => {
  gateway?.kill();
  await receiver?.close();
});

const only = <T>(items: T[], what: string): T => {
  expect(items, what).toHaveLength(1);
  return items[0]!;
};

describe('tracing (real process, real OpenBao, OTLP/HTTP JSON)', () => {
  it('exports server → token issue → backend sign (batch size) → Vault call, under the caller\'s traceparent, at shutdown', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const single = await fetch(`${gateway.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01`, 'x-request-id': 'trace-test-1' },
      body: JSON.stringify({ audience: 'https://api.test', claims: { secret_claim: 'claim-value-not-for-spans' } }),
    });
    expect(single.status).toBe(200);
    const singleToken = ((await single.json()) as { token: string }).token;
    // A burst: concurrent signs with one key version leave as Transit batches.
    const burst = await Promise.all(Array.from({ length: 40 }, () => requestToken(gateway.url, { audience: 'https://api.test' })));
    expect(burst.map((r) => r.status)).toEqual(burst.map(() => 200));
    expect((await requestToken(gateway.url, { audience: 'https://api.test' }, WRONG_KEY)).status).toBe(401);
    expect((await fetch(`${gateway.url}/.well-known/jwks.json`)).status).toBe(200);

    expect(receiver.received).toHaveLength(0); // nothing has left yet: the batch processor waits 10 minutes
    gateway.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    const spans = receiver.spans();
    expect(spans.length, 'spans exported by the flush at shutdown').toBeGreaterThan(0);
    expect(receiver.received.every((r) => r.path === '/v1/traces' && r.contentType?.includes('application/json'))).toBe(true);
    expect(spans[0]!.resource['service.name']).toBe('signet-under-test');

    // The caller's traceparent is the parent of the SERVER span.
    const server = only(spans.filter((s) => s.traceId === traceId && s.kind === SPAN_KIND.server), 'the server span of the traced request');
    expect(server.parentSpanId).toBe(callerSpanId);
    expect(server.name).toBe('POST /v1/tokens');
    expect(server.attributes).toMatchObject({ 'http.route': '/v1/tokens', 'http.request.method': 'POST', 'http.response.status_code': 200, 'signet.request_id': 'trace-test-1' });
    const issue = only(spans.filter((s) => s.parentSpanId === server.spanId), 'the token issue span under it');
    expect(issue.name).toBe('signet.token.issue');
    expect(issue.traceId).toBe(traceId);
    expect(issue.attributes).toMatchObject({ 'signet.ring': 'traced', 'signet.alg': 'ES256', 'signet.client': 'test-client', 'signet.backend': 'vault-transit', 'signet.key.version': 1 });
    const sign = only(spans.filter((s) => s.parentSpanId === issue.spanId), 'the backend sign span under it');
    expect(sign.name).toBe('signet.backend.sign');
    expect(sign.attributes).toMatchObject({ 'signet.batch.size': 1, 'signet.backend': 'vault-transit', 'signet.ring': 'traced', 'signet.key.version': 1 });
    expect(sign.links.map((l) => l.spanId)).toEqual([issue.spanId]);
    const vaultCall = only(spans.filter((s) => s.parentSpanId === sign.spanId), 'the Vault HTTP call under it');
    expect(vaultCall.kind).toBe(SPAN_KIND.client);
    expect(vaultCall.attributes['http.request.method']).toBe('POST');
    expect(String(vaultCall.attributes['url.full'])).toBe(`${openbaoUrl}/v1/transit/sign/${key}`);
    expect(vaultCall.attributes['http.response.status_code']).toBe(200);

    // Batches: one span per Transit request, linked to every caller's issue span, its size recorded.
    const issueSpans = spans.filter((s) => s.name === 'signet.token.issue' && s.traceId !== traceId);
    expect(issueSpans).toHaveLength(40);
    const batches = spans.filter((s) => s.name === 'signet.backend.sign' && s.traceId !== traceId && s.attributes['signet.ring'] === 'traced' && s.links.length > 0);
    for (const batch of batches) {
      expect(batch.links).toHaveLength(Number(batch.attributes['signet.batch.size']));
      expect(batch.links.map((l) => l.spanId)).toContain(batch.parentSpanId); // the first caller is its parent
    }
    const linked = batches.flatMap((b) => b.links.map((l) => l.spanId)).sort();
    expect(linked).toEqual(issueSpans.map((s) => s.spanId).sort()); // every caller signed in exactly one batch
    expect(Math.max(...batches.map((b) => Number(b.attributes['signet.batch.size'])))).toBeGreaterThan(1);

    // A refused request: the SERVER span carries the stable code, not the message.
    const refused = only(spans.filter((s) => s.kind === SPAN_KIND.server && s.attributes['http.response.status_code'] === 401), 'the refused request');
    expect(refused.status).toEqual({ code: STATUS_ERROR, message: 'ERR_UNAUTHENTICATED' });
    expect(refused.attributes['error.type']).toBe('ERR_UNAUTHENTICATED');
    expect(spans.filter((s) => s.parentSpanId === refused.spanId)).toEqual([]); // nothing was signed for it

    // JWKS serving, and the refresh that reads the keys from Vault.
    const jwks = only(spans.filter((s) => s.name === 'GET /.well-known/jwks.json'), 'the JWKS request');
    expect(jwks.attributes).toMatchObject({ 'signet.jwks.ring': '*', 'signet.jwks.not_modified': false, 'http.response.status_code': 200 });
    const refresh = spans.find((s) => s.name === 'signet.keys.refresh' && s.attributes['signet.ring'] === 'traced');
    expect(refresh?.parentSpanId).toBeUndefined(); // background work starts its own trace
    expect(spans.some((s) => s.parentSpanId === refresh!.spanId && s.kind === SPAN_KIND.client && String(s.attributes['url.full']).endsWith(`/v1/transit/keys/${key}`))).toBe(true);

    // Probes are not traced (spawnGateway polled /readyz until it answered 200).
    expect(spans.filter((s) => String(s.attributes['http.route']).startsWith('/readyz'))).toEqual([]);

    // What never goes on a span: tokens, claim values, credentials.
    const exported = receiver.received.map((r) => r.body.toString()).join('\n');
    for (const secret of [singleToken, ...burst.map((r) => (r.body as { token: string }).token), TEST_API_KEY, WRONG_KEY, OPENBAO_ROOT_TOKEN, 'claim-value-not-for-spans']) {
      expect(exported).not.toContain(secret);
    }
    expect(exported).not.toMatch(/authorization|x-vault-token/i);
  });

  it('defaults to OTLP/HTTP protobuf, sent to <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces', async () => {
    const protobuf = await OtlpReceiver.start();
    const local = await spawnGateway(
      { backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [{ name: 'local', backend: 'dev', alg: 'ES256', create_if_missing: true }], clients: [openClient()] },
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${protobuf.url}/`, OTEL_BSP_SCHEDULE_DELAY: '50' } },
    );
    try {
      expect((await requestToken(local.url, { audience: 'https://api.test' })).status).toBe(200);
      await eventually(async () => protobuf.received.some((r) => r.body.includes('signet.token.issue')), 10_000, 'the token issue span exported');
      const exported = protobuf.received.find((r) => r.body.includes('signet.token.issue'))!;
      expect(exported.path).toBe('/v1/traces');
      expect(exported.contentType).toBe('application/x-protobuf');
      expect(exported.body.includes('POST /v1/tokens')).toBe(true); // span names are plain UTF-8 in protobuf
    } finally {
      local.kill();
      await protobuf.close();
    }
  });
});

