// Several gateway replicas on one real OpenBao key, in accelerated time, for the fault tests:
// max-age 2 s + swr 0 + refresh 1 s ≤ prepublish 4 s; grace 7 s ≥ TTL 4 s + 2 s.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { sha256Hex } from '../../src/config/load.js';
import type { BuildOptions } from '../../src/app.js';
import { OPENBAO_ROOT_TOKEN, vaultRequest } from '../harness/openbao.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/redis.js';
import { adminRequest, configFrom, openClient, publishedKids, requestToken, startGateway, TEST_ADMIN_KEY, type RunningGateway } from './gateway.js';

export const FAST_RING = { alg: 'ES256', issuer: 'https://signet.test', max_token_ttl_seconds: 4, prepublish_seconds: 4, grace_seconds: 7, rotation_period_seconds: 0 };
export const FAST_TOP = { refresh_interval_seconds: 1, jwks: { max_age_seconds: 2, stale_while_revalidate_seconds: 0 } };

export interface VaultRing {
  ring: string;
  key: string;
  raw: Record<string, unknown>;
}

/** A fresh Transit key and the config of a ring on it; `ring` and `top` override the fast defaults. */
export async function vaultRing(prefix: string, options: { redisUrl?: string; ring?: Record<string, unknown>; top?: Record<string, unknown> } = {}): Promise<VaultRing> {
  const url = inject('openbaoUrl');
  const ring = `${prefix}-${randomBytes(3).toString('hex')}`;
  const key = `signet-${ring}`;
  await vaultRequest(url, 'POST', `transit/keys/${key}`, { type: 'ecdsa-p256' });
  const raw = {
    ...FAST_TOP,
    ...(options.redisUrl ? { redis_url: options.redisUrl } : {}),
    backends: { vault: { type: 'vault-transit', address: url, token: OPENBAO_ROOT_TOKEN } },
    rings: [{ name: ring, backend: 'vault', key, ...FAST_RING, ...options.ring }],
    clients: [openClient()],
    admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
    ...options.top,
  };
  return { ring, key, raw };
}

/** A replica of its own (its own state_dir), closed by `replicas.closeAll()`. */
export class Replicas {
  private readonly running: RunningGateway[] = [];

  async start(setup: VaultRing, options: BuildOptions = {}): Promise<RunningGateway> {
    const gateway = await startGateway(configFrom(setup.raw), options);
    this.running.push(gateway);
    return gateway;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((gateway) => gateway.close()));
  }
}

/**
 * A Redis of the test file's own (flushed, killed and restarted at will; the shared one is never
 * touched) and the replicas started against it, all stopped when the file ends. Call at the top.
 */
export function replicasWithPrivateRedis(): { replicas: Replicas; redis: PrivateRedis } {
  const replicas = new Replicas();
  let server: PrivateRedis | undefined;
  const own = (): PrivateRedis => {
    if (!server) throw new Error('replicasWithPrivateRedis: Redis is not started yet (use it inside tests)');
    return server;
  };
  beforeAll(async () => {
    server = await startPrivateRedis();
  });
  afterAll(async () => {
    await replicas.closeAll();
    await server?.stop();
  });
  // Read lazily: the server exists only once beforeAll has run.
  const redis: PrivateRedis = {
    get url() {
      return own().url;
    },
    flush: () => own().flush(),
    restart: () => own().restart(),
    stop: () => own().stop(),
  };
  return { replicas, redis };
}

/** The kid a replica signs with now, or the error code it answers with. */
export async function signingKid(gateway: RunningGateway): Promise<string> {
  const { status, body } = await requestToken(gateway.url, { audience: 'https://api.test' });
  return status === 200 ? (body.kid as string) : `HTTP ${status} ${body?.error?.code}`;
}

export async function transitVersions(key: string): Promise<Array<{ version: number; created: number }>> {
  const response = (await vaultRequest(inject('openbaoUrl'), 'GET', `transit/keys/${key}`)) as { data: { keys: Record<string, { creation_time: string }> } };
  return Object.entries(response.data.keys)
    .map(([version, entry]) => ({ version: Number(version), created: Date.parse(entry.creation_time) }))
    .sort((x, y) => x.version - y.version);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 50 ms until it holds; fails after `ms`. */
export async function eventually(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(50);
  }
}

/** Revokes a version through the admin API. */
export async function revoke(gateway: RunningGateway, ring: string, version: number): Promise<{ status: number; body: any }> {
  const response = await adminRequest(gateway.url, 'POST', `/rings/${ring}/versions/${version}/revoke`, { reason: 'test' });
  return { status: response.status, body: await response.json() };
}

/** Watches replicas for `ms`: every kid they publish or sign with. */
export async function observe(gateways: RunningGateway[], ms: number): Promise<{ published: Set<string>; signed: Set<string> }> {
  const published = new Set<string>();
  const signed = new Set<string>();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const gateway of gateways) {
      for (const kid of (await publishedKids(gateway.url)).kids) published.add(kid);
      signed.add(await signingKid(gateway));
    }
    await sleep(50);
  }
  return { published, signed };
}
