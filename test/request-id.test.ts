// The request id: a caller's safe x-request-id is used, returned on every response (errors, 404,
// 405, framework errors, the drain's 503, unparseable HTTP), put in log and audit lines and 5xx
// messages, and sent on the backend calls: OpenBao's own audit log records it, a batch carrying
// every caller's id; KMS receives it as a header. An unsafe value is replaced by a random id and
// never repeated; generated ids are random UUIDs, not a per-process counter.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDraining } from '../src/resilience/http-guards.js';
import { MOTO_REGION, provisionKmsVersion, useDummyAwsCredentials } from './harness/kms.js';
import { OPENBAO_ROOT_TOKEN, startOpenBao, vaultRequest } from './harness/openbao.js';
import type { RunningServer } from './harness/tools.js';
import { auditRecords, configFrom, openClient, startGateway, tempDir, TEST_API_KEY, type RunningGateway } from './helpers/gateway.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function tokenRequest(url: string, headers: Record<string, string> = {}, apiKey = TEST_API_KEY): Promise<Response> {
  return fetch(`${url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ audience: 'https://api.test' }),
  });
}

/** Sends `head` (request line and headers, CRLF-separated) as raw bytes: values fetch would refuse to send. */
function rawExchange(url: string, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.end(Buffer.from(`${head}\r\n\r\n`, 'latin1'));
  });
}

/** A raw GET /healthz with one extra header line, as bytes; returns the x-request-id it got back. */
async function idForRawHeader(url: string, headerLine: string): Promise<{ status: number; id: string | undefined; answer: string }> {
  const answer = await rawExchange(url, `GET /healthz HTTP/1.1\r\nHost: localhost\r\n${headerLine}\r\nConnection: close`);
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]), id: /\r\nx-request-id: ([^\r\n]*)/i.exec(answer)?.[1], answer };
}

describe('request ids (in-process gateway, local backend)', () => {
  let gateway: RunningGateway;
  let logged = '';

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    gateway = await startGateway(
      configFrom({ backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [{ name: 'dev', backend: 'dev', alg: 'ES256', create_if_missing: true }], clients: [openClient()] }),
      { logger: pino({ level: 'info' }, sink) },
    );
  });
  afterAll(() => gateway?.close());

  it('uses a safe incoming id: returned, in the audit record, and in the log line of a refusal', async () => {
    const id = 'Req_2f1c.9a:b7/x+y=z@edge~1';
    const issued = await tokenRequest(gateway.url, { 'x-request-id': id });
    expect(issued.status).toBe(200);
    expect(issued.headers.get('x-request-id')).toBe(id);
    expect(auditRecords(gateway).at(-1)).toMatchObject({ audit: 'token.issued', request_id: id });

    const refused = await tokenRequest(gateway.url, { 'x-request-id': 'refused-1' }, 'sgt_wrong-key');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('refused-1');
    const line = logged.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request rejected' && l.code === 'ERR_UNAUTHENTICATED');
    expect(line?.reqId).toBe('refused-1');

    const longest = 'a'.repeat(128);
    expect((await fetch(`${gateway.url}/healthz`, { headers: { 'x-request-id': longest } })).headers.get('x-request-id')).toBe(longest);
  });

  it('returns the id on every kind of error: 404, 405, a bad URL, a refused hook', async () => {
    const cases: Array<[string, RequestInit, number]> = [
      ['/no-such-route', {}, 404],
      ['/v1/tokens', { method: 'GET' }, 405],
      ['/rings/%zz/.well-known/jwks.json', {}, 400],
      ['/v1/admin/rings', {}, 401],
    ];
    for (const [path, init, status] of cases) {
      const response = await fetch(`${gateway.url}${path}`, { ...init, headers: { 'x-request-id': `case-${status}` } });
      expect(response.status, path).toBe(status);
      expect(response.headers.get('x-request-id'), path).toBe(`case-${status}`);
    }
  });

  it('replaces unsafe ids with a random one and never repeats them', async () => {
    const unsafe = ['a'.repeat(129), 'two words', '"quoted"', 'semi;colon', 'comma,list', 'back\\slash', 'ünïcode', '<script>'];
    for (const value of unsafe) {
      // A refused request: its log line carries the id that replaced the caller's.
      const response = await tokenRequest(gateway.url, { 'x-request-id': value }, 'sgt_wrong-key');
      const id = response.headers.get('x-request-id');
      expect(id, value).toMatch(UUID);
      expect(await response.text()).not.toContain(value);
      expect(logged).toContain(`"reqId":"${id}"`);
    }
    // Sent twice: Node joins them with ", ", which is not one safe token.
    const twice = await idForRawHeader(gateway.url, 'X-Request-Id: first-dup-id\r\nX-Request-Id: second-dup-id');
    expect(twice.id).toMatch(UUID);
    // A byte above 0x7f (obs-text) passes Node's parser; our check refuses it.
    const obsText = await idForRawHeader(gateway.url, 'X-Request-Id: obs-text-\xff-id');
    expect(obsText.status).toBe(200);
    expect(obsText.id).toMatch(UUID);
    // A control character: Node refuses the request itself; the answer still carries a fresh id.
    const control = await idForRawHeader(gateway.url, 'X-Request-Id: evil-ctl\x01id');
    expect(control.status).toBe(400);
    expect(control.id).toMatch(UUID);
    expect(control.answer).not.toContain('evil-ctl');
    for (const value of [...unsafe, 'first-dup-id', 'second-dup-id', 'evil-ctl', 'obs-text-']) expect(logged).not.toContain(value);
  });

  it('generates random ids, unique per request', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${gateway.url}/healthz`)).headers.get('x-request-id')));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(20);
  });

  it('names the id in a 5xx message: the drain\'s 503', async () => {
    const other = await startGateway(configFrom({ backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [{ name: 'dev', backend: 'dev', alg: 'ES256', create_if_missing: true }], clients: [openClient()] }));
    try {
      startDraining(other.app);
      const response = await tokenRequest(other.url, { 'x-request-id': 'drain-1' });
      expect(response.status).toBe(503);
      expect(response.headers.get('x-request-id')).toBe('drain-1');
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('ERR_SHUTTING_DOWN');
      expect(body.error.message).toContain('reqId drain-1');
    } finally {
      await other.close();
    }
  });
});

describe('request ids reach the backends', () => {
  let bao: RunningServer;
  const auditFile = join(tempDir('signet-bao-audit-'), 'audit.log');

  beforeAll(async () => {
    bao = await startOpenBao(undefined, { auditFile });
    // Vault and OpenBao record a request header only when told to (here unhashed, to compare).
    await vaultRequest(bao.url, 'POST', 'sys/config/auditing/request-headers/X-Request-Id', { hmac: false });
  }, 60_000);
  afterAll(() => bao?.stop());

  /** The X-Request-Id values OpenBao's audit log recorded for requests to `path`. */
  const auditedIds = (path: string): string[] =>
    readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; request?: { path?: string; headers?: Record<string, string[]> } })
      .filter((entry) => entry.type === 'request' && entry.request?.path === path)
      .flatMap((entry) => entry.request?.headers?.['x-request-id'] ?? []);

  it('OpenBao\'s audit log records the id of each sign; a batch carries every caller\'s id', async () => {
    const key = `signet-reqid-${randomBytes(4).toString('hex')}`;
    await vaultRequest(bao.url, 'POST', `transit/keys/${key}`, { type: 'ecdsa-p256' });
    const gateway = await startGateway(
      configFrom({
        backends: { vault: { type: 'vault-transit', address: bao.url, token: OPENBAO_ROOT_TOKEN } },
        rings: [{ name: 'reqid', backend: 'vault', key, alg: 'ES256' }],
        clients: [openClient()],
      }),
    );
    try {
      expect((await tokenRequest(gateway.url, { 'x-request-id': 'vault-sees-me-1' })).status).toBe(200);
      expect(auditedIds(`transit/sign/${key}`)).toEqual(['vault-sees-me-1']);

      // OpenBao paused while the burst arrives, so the signs queue behind the calls in flight and
      // leave in batches whatever the machine's load (without the pause, each may go alone).
      const burst = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
      process.kill(bao.process.pid!, 'SIGSTOP');
      let pending!: Promise<Array<Awaited<ReturnType<typeof tokenRequest>>>>;
      try {
        pending = Promise.all(burst.map((id) => tokenRequest(gateway.url, { 'x-request-id': id })));
        for (let i = 0; i < 50 && !/signet_sign_queue_depth\{ring="reqid"\} 30\b/.test(await (await fetch(`${gateway.url}/metrics`)).text()); i++) await sleep(20);
      } finally {
        process.kill(bao.process.pid!, 'SIGCONT');
      }
      const answers = await pending;
      expect(answers.map((a) => a.status)).toEqual(burst.map(() => 200));
      const batches = auditedIds(`transit/sign/${key}`).slice(1);
      expect(batches.length).toBeLessThan(burst.length); // some requests carried several callers
      expect(batches.some((ids) => ids.includes(','))).toBe(true);
      expect(batches.flatMap((ids) => ids.split(',')).sort()).toEqual([...burst].sort());
    } finally {
      await gateway.close();
    }
  });

  it('KMS Sign calls carry the id as X-Request-Id (seen by a proxy in front of moto)', async () => {
    useDummyAwsCredentials();
    const motoUrl = inject('motoUrl');
    const key = `signet-reqid-${randomBytes(4).toString('hex')}`;
    await provisionKmsVersion(motoUrl, key, 'ES256');
    const seen: Array<{ target: string | undefined; requestId: string | undefined }> = [];
    const proxy: Server = createServer((incoming, outgoing) => {
      seen.push({ target: incoming.headers['x-amz-target'] as string | undefined, requestId: incoming.headers['x-request-id'] as string | undefined });
      const forward = httpRequest(`${motoUrl}${incoming.url}`, { method: incoming.method, headers: incoming.headers }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      });
      incoming.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const gateway = await startGateway(
      configFrom({
        backends: { kms: { type: 'aws-kms', region: MOTO_REGION, endpoint: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` } },
        rings: [{ name: 'reqid', backend: 'kms', key, alg: 'ES256' }],
        clients: [openClient()],
      }),
    );
    try {
      expect((await tokenRequest(gateway.url, { 'x-request-id': 'kms-sees-me-1' })).status).toBe(200);
      expect(seen.filter((s) => s.target === 'TrentService.Sign').map((s) => s.requestId)).toContain('kms-sees-me-1');
    } finally {
      await gateway.close();
      proxy.closeAllConnections();
      proxy.close();
    }
  });
});
