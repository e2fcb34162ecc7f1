// Rotation under traffic, in accelerated time, on real OpenBao with two replicas sharing a Redis of
// the test's own. A resource server built the usual way (jose createRemoteJWKSet, cache = served
// max-age, jose's default refetch cooldown) checks every token when issued and again just before
// it expires. Shared by the rotation-traffic, rotation-prepublish-zero and rotation-replicas tests.
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import type { SignetConfig } from '../../src/config-schema.js';
import { startPrivateRedis, type PrivateRedis } from '../harness/redis.js';
import { configFrom, publishedKids, requestToken, startGateway, type RunningGateway } from './gateway.js';
import { sleep, vaultRing, type VaultRing } from './replicas.js';

// max-age 2 s + swr 0 + refresh 1 s ≤ prepublish 4 s; grace 7 s ≥ TTL 4 s + 2 s; period 6 s.
export const PREPUBLISH_MS = 4000;
const RING = { rotation_period_seconds: 6 };

export interface TrafficFixture {
  /** The test file's own Redis (flush it, restart it). */
  redis(): PrivateRedis;
  /** Two replicas of a fresh Transit ring sharing that Redis. */
  replicas(name: string, tweak?: (config: SignetConfig) => void): Promise<[RunningGateway, RunningGateway, VaultRing]>;
}

/** Registers the file's Redis and closes every replica it started when the file ends. */
export function trafficFixture(): TrafficFixture {
  let redis: PrivateRedis | undefined;
  const running: RunningGateway[] = [];
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await Promise.all(running.map((g) => g.close()));
    await redis?.stop();
  });
  const own = (): PrivateRedis => {
    if (!redis) throw new Error('trafficFixture: Redis is not started yet (call it at the top of the file)');
    return redis;
  };
  return {
    redis: own,
    async replicas(name, tweak = () => undefined) {
      // These tests are about verifiers, not deadlines: a loaded CI machine must not turn a slow sign into a 503.
      const setup = await vaultRing(name, { redisUrl: own().url, ring: RING, top: { server: { token_deadline_ms: 10_000 } } });
      const start = async (): Promise<RunningGateway> => {
        const config = configFrom(setup.raw);
        tweak(config);
        const gateway = await startGateway(config);
        running.push(gateway);
        return gateway;
      };
      return [await start(), await start(), setup];
    },
  };
}

export interface Issued {
  kid: string;
  at: number;
}

export interface TrafficResult {
  issued: Issued[];
  /** Verification failures of tokens the gateway returned, except those counted apart below. */
  failures: Array<{ phase: 'issue' | 'expiry'; error: string }>;
  /** Tokens signed while their kid was still inside prepublish (the documented early takeovers): checked against the JWKS served at that moment. */
  earlyTokens: number;
  statuses: Map<number, number>;
}

/**
 * Issues tokens from both replicas for `ms` (and until the events end), verifying each at issue and again just before exp,
 * while `events` run. `revokedKids` is filled by the events; `firstPublished` by a JWKS poller.
 */
export async function traffic(a: RunningGateway, b: RunningGateway, ms: number, options: { revokedKids?: Set<string>; earlyAllowed?: (kid: string) => boolean; events?: () => Promise<void> } = {}): Promise<TrafficResult> {
  // Like a resource server: cache the JWKS for the served max-age, jose's default refetch cooldown.
  const jwks = createRemoteJWKSet(new URL(`${a.url}/.well-known/jwks.json`), { cacheMaxAge: 2000 });
  const result: TrafficResult = { issued: [], failures: [], earlyTokens: 0, statuses: new Map() };
  const revokedKids = options.revokedKids ?? new Set<string>();
  const firstPublished = new Map<string, number>();
  const later: Promise<void>[] = [];
  const early: Array<{ kid: string; what: string }> = [];
  // Traffic runs for `ms`, and on a slow machine until 2 s after the last event, so every event's
  // effect (the kid that takes over) is seen under traffic.
  let deadline = Date.now() + ms;
  let eventsRunning = true;
  const running = (): boolean => eventsRunning || Date.now() < deadline;
  const events = (options.events?.() ?? Promise.resolve()).finally(() => {
    eventsRunning = false;
    deadline = Math.max(deadline, Date.now() + 2000);
  });

  // Kids published before the traffic starts have waited out their prepublish long ago.
  for (const gateway of [a, b]) for (const kid of (await publishedKids(gateway.url)).kids) firstPublished.set(kid, 0);
  const poll = async (): Promise<void> => {
    while (running()) {
      for (const gateway of [a, b]) for (const kid of (await publishedKids(gateway.url)).kids) if (!firstPublished.has(kid)) firstPublished.set(kid, Date.now());
      await sleep(100);
    }
  };
  const verify = async (token: string, kid: string, phase: 'issue' | 'expiry'): Promise<void> => {
    try {
      await jwtVerify(token, jwks, { issuer: 'https://signet.test', audience: 'https://api.test', algorithms: ['ES256'] });
    } catch (error) {
      if (revokedKids.has(kid)) return; // counted apart: revoked on purpose
      result.failures.push({ phase, error: `${(error as Error).name}: ${(error as Error).message} (kid ${kid})` });
    }
  };
  const worker = async (index: number): Promise<void> => {
    for (let n = 0; running(); n++) {
      const gateway = (index + n) % 2 === 0 ? a : b;
      const { status, body } = await requestToken(gateway.url, { audience: 'https://api.test' });
      result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
      if (status !== 200) {
        await sleep(25);
        continue;
      }
      const kid = decodeProtectedHeader(body.token).kid!;
      const at = Date.now();
      result.issued.push({ kid, at });
      const published = firstPublished.get(kid);
      if (options.earlyAllowed && (published === undefined || at - published < PREPUBLISH_MS - 200)) {
        // Signed before its prepublish elapsed: allowed only right after an active-version
        // revocation or an integrity event. A cached verifier may not know the kid yet; the
        // JWKS the gateway serves at that moment must.
        result.earlyTokens++;
        early.push({ kid, what: published === undefined ? 'before it was published' : `${at - published} ms after it was published` });
        const served = (await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
        await jwtVerify(body.token, createLocalJWKSet(served), { issuer: 'https://signet.test', audience: 'https://api.test', algorithms: ['ES256'] }).catch((error: Error) =>
          result.failures.push({ phase: 'issue', error: `early token does not verify against the served JWKS: ${error.name} (kid ${kid})` }),
        );
      } else {
        await verify(body.token, kid, 'issue');
      }
      // Again 500 ms before expiry: the key must still be published for every token it signed.
      const wait = body.expires_at * 1000 - 500 - Date.now();
      later.push(sleep(Math.max(0, wait)).then(() => verify(body.token, kid, 'expiry')));
      await sleep(25);
    }
  };
  await Promise.all([poll(), events, ...[0, 1, 2, 3].map(worker)]);
  await Promise.all(later);
  // Judged at the end: the events learn which kids take over early only when their calls return.
  for (const { kid, what } of early) if (!options.earlyAllowed?.(kid)) result.failures.push({ phase: 'issue', error: `kid ${kid} signed ${what}` });
  return result;
}

export const kidsOf = (result: TrafficResult): Set<string> => new Set(result.issued.map((entry) => entry.kid));
