// The AWS KMS backend: its alias-based version model against moto, what moto does differently
// from AWS (checked, so the docs' claims stay true), AWS behaviour moto cannot show (a fake
// client and a stub HTTP endpoint behind the real SDK), and tokens from a gateway end to end.
import { constants, createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetPublicKeyCommand,
  ListAliasesCommand,
  ListResourceTagsCommand,
  SignCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { calculateJwkThumbprint, compactVerify, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AwsKmsBackend, KMS_RAW_MESSAGE_LIMIT, kmsError, sdkKmsApi, type AwsKmsOptions, type KmsApi } from '../src/backends/aws-kms/index.js';
import type { KeyRef } from '../src/backends/backend.js';
import { GatewayError } from '../src/errors.js';
import { ALGORITHMS, type JwsAlg } from '../src/jose/algorithms.js';
import { spkiToJwk } from '../src/jose/jwk.js';
import { FakeKms, kmsException } from './harness/fake-kms.js';
import { MOTO_REGION, motoClient, provisionKmsVersion, useDummyAwsCredentials } from './harness/kms.js';
import { configFrom, openClient, requestToken, startGateway, type RunningGateway } from './helpers/gateway.js';
import { remoteVerifier } from './helpers/verify.js';

useDummyAwsCredentials();

const suffix = randomBytes(4).toString('hex');
let counter = 0;
const uniqueKey = (label: string): string => `kms-${suffix}-${label}-${++counter}`;
const refOf = (key: string, alg: JwsAlg = 'ES256'): KeyRef => ({ ring: `r-${key}`, key, alg });

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected the call to fail');
}

function options(endpoint: string, overrides: Partial<AwsKmsOptions> = {}): AwsKmsOptions {
  return { region: MOTO_REGION, endpoint, signRatePerRing: 0, maxAttempts: 2, timeoutMs: 5000, ...overrides };
}

const fakeOptions = (overrides: Partial<AwsKmsOptions> = {}): AwsKmsOptions => options('http://fake.invalid', overrides);

describe('AWS KMS backend against moto', () => {
  let motoUrl: string;
  let moto: KMSClient;
  let backend: AwsKmsBackend;

  beforeAll(() => {
    motoUrl = inject('motoUrl');
    moto = motoClient(motoUrl);
    backend = new AwsKmsBackend(options(motoUrl));
  });
  afterAll(async () => {
    await backend.close();
    moto.destroy();
  });

  async function aliasTarget(name: string): Promise<string | undefined> {
    const { Aliases } = await moto.send(new ListAliasesCommand({}));
    return Aliases?.find((alias) => alias.AliasName === name)?.TargetKeyId;
  }

  async function spkiOf(keyId: string): Promise<Buffer> {
    return Buffer.from((await moto.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
  }

  it('orders versions by alias number (numerically), ignoring aliases that are not alias/<key>/v<N>', async () => {
    const key = uniqueKey('order');
    const ids: Record<number, string> = {};
    // Created out of order, so neither creation order nor string order gives the right answer.
    for (const version of [10, 2, 1]) ids[version] = await provisionKmsVersion(motoUrl, key, 'ES256', version);
    const stray = await provisionKmsVersion(motoUrl, `${key}-other`, 'ES256', 3); // another ring sharing the prefix
    const { CreateAliasCommand } = await import('@aws-sdk/client-kms');
    for (const name of [`alias/${key}`, `alias/${key}/v01`, `alias/${key}/vfoo`, `alias/${key}/v4/x`, `alias/${key}/v0`]) {
      await moto.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: stray }));
    }

    const versions = await backend.listVersions(refOf(key));
    expect(versions.map((v) => v.version)).toEqual([1, 2, 10]);
    for (const version of versions) {
      expect(Buffer.from(version.spki).equals(await spkiOf(ids[version.version]!))).toBe(true);
      expect(version.disabled).toBeUndefined();
    }
  });

  it('an alias-less key is ERR_BACKEND_KEY_MISSING for listVersions, sign and createVersion', async () => {
    const ref = refOf(uniqueKey('missing'));
    expect((await failure(backend.listVersions(ref))).code).toBe('ERR_BACKEND_KEY_MISSING');
    expect((await failure(backend.sign(ref, 1, Buffer.from('a.b')))).code).toBe('ERR_BACKEND_KEY_MISSING');
    expect((await failure(backend.createVersion(ref))).code).toBe('ERR_BACKEND_KEY_MISSING');
  });

  it('createVersion adds alias/<key>/v<N+1> on a new tagged key and leaves alias/<key> alone; markSigning moves it', async () => {
    const key = uniqueKey('mark');
    const ref = refOf(key);
    const v1 = await provisionKmsVersion(motoUrl, key, 'ES256');
    await backend.markSigning(ref, 1); // alias/<key> does not exist yet: created
    expect(await aliasTarget(`alias/${key}`)).toBe(v1);

    const created = await backend.createVersion(ref);
    expect(created.version).toBe(2);
    const v2 = await aliasTarget(`alias/${key}/v2`);
    expect(v2).toBeDefined();
    expect(v2).not.toBe(v1);
    expect(Buffer.from(created.spki).equals(await spkiOf(v2!))).toBe(true);
    expect(await aliasTarget(`alias/${key}`)).toBe(v1); // creating a version never makes it sign

    const { Tags } = await moto.send(new ListResourceTagsCommand({ KeyId: v2 }));
    expect(Tags).toEqual(expect.arrayContaining([{ TagKey: 'signet:ring', TagValue: key }, { TagKey: 'signet:version', TagValue: '2' }]));
    const { KeyMetadata } = await moto.send(new DescribeKeyCommand({ KeyId: v2 }));
    expect(KeyMetadata).toMatchObject({ KeyUsage: 'SIGN_VERIFY', KeySpec: 'ECC_NIST_P256' });

    await backend.markSigning(ref, 2);
    expect(await aliasTarget(`alias/${key}`)).toBe(v2);
    await backend.markSigning(ref, 2); // idempotent
    expect(await aliasTarget(`alias/${key}`)).toBe(v2);
    expect((await backend.listVersions(ref)).map((v) => v.version)).toEqual([1, 2]); // the ring alias is not a version
  });

  it('revokeVersion disables that version\'s key; listVersions then reports it disabled', async () => {
    const key = uniqueKey('revoke');
    const ref = refOf(key, 'ES384');
    await provisionKmsVersion(motoUrl, key, 'ES384');
    await backend.createVersion(ref);
    await backend.revokeVersion(ref, { version: 1, reason: 'test', at: Date.now() });
    const { KeyMetadata } = await moto.send(new DescribeKeyCommand({ KeyId: (await aliasTarget(`alias/${key}/v1`))! }));
    expect(KeyMetadata?.KeyState).toBe('Disabled');
    const versions = await backend.listVersions(ref);
    expect(versions.map((v) => [v.version, v.disabled === true])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect((await failure(backend.revokeVersion(ref, { version: 7, reason: 'test', at: Date.now() }))).code).toBe('ERR_BACKEND_VERSION_MISSING');
  });

  it('ensureKey creates v1 when the ring has no versions, does nothing otherwise, and does not create alias/<key>', async () => {
    const key = uniqueKey('ensure');
    const ref = refOf(key, 'RS256');
    await backend.ensureKey(ref);
    await backend.ensureKey(ref);
    expect((await backend.listVersions(ref)).map((v) => v.version)).toEqual([1]);
    expect(await aliasTarget(`alias/${key}`)).toBeUndefined();
    const { KeyMetadata } = await moto.send(new DescribeKeyCommand({ KeyId: (await aliasTarget(`alias/${key}/v1`))! }));
    expect(KeyMetadata?.KeySpec).toBe(ALGORITHMS.RS256.kmsKeySpecs[0]);
  });

  it('a key whose spec does not fit the ring alg is ERR_UNSUPPORTED_KEY', async () => {
    const key = uniqueKey('spec');
    await provisionKmsVersion(motoUrl, key, 'ES256');
    expect((await failure(backend.listVersions(refOf(key, 'ES384')))).code).toBe('ERR_UNSUPPORTED_KEY');
    expect((await failure(backend.listVersions(refOf(key, 'RS256')))).code).toBe('ERR_UNSUPPORTED_KEY');
  });

  it('two replicas creating a version at once end with distinct consecutive versions, or one version and a deleted orphan', async () => {
    const key = uniqueKey('race');
    const ref = refOf(key);
    await provisionKmsVersion(motoUrl, key, 'ES256');
    const replicas = [new AwsKmsBackend(options(motoUrl)), new AwsKmsBackend(options(motoUrl))];
    const created = await Promise.all(replicas.map((replica) => replica.createVersion(ref)));
    const numbers = created.map((v) => v.version).sort();
    const { Aliases } = await moto.send(new ListAliasesCommand({}));
    const ours = Aliases!.filter((alias) => alias.AliasName?.startsWith(`alias/${key}/`)).map((alias) => alias.AliasName).sort();
    if (numbers[0] === numbers[1]) {
      // The race path: one CreateAlias lost, adopted the winner and scheduled its own key for deletion.
      expect(numbers).toEqual([2, 2]);
      expect(ours).toEqual([`alias/${key}/v1`, `alias/${key}/v2`]);
      expect(Buffer.from(created[0]!.spki).equals(Buffer.from(created[1]!.spki))).toBe(true);
    } else {
      expect(numbers).toEqual([2, 3]);
      expect(ours).toEqual([`alias/${key}/v1`, `alias/${key}/v2`, `alias/${key}/v3`]);
    }
    for (const replica of replicas) await replica.close();
  });

  it('the race path against moto: a CreateAlias that loses schedules its orphan for deletion and returns the winner', async () => {
    const key = uniqueKey('lost');
    const ref = refOf(key);
    await provisionKmsVersion(motoUrl, key, 'ES256');
    const client = motoClient(motoUrl);
    const real = sdkKmsApi(client);
    let orphan: string | undefined;
    let winner: string | undefined;
    // Another replica creates v2 between this replica's CreateKey and its CreateAlias.
    const api: KmsApi = {
      ...real,
      createKey: async (input) => {
        const out = await real.createKey(input);
        orphan = out.KeyMetadata?.KeyId;
        winner = await provisionKmsVersion(motoUrl, key, 'ES256', 2);
        return out;
      },
    };
    const replica = new AwsKmsBackend(options(motoUrl), api);
    const created = await replica.createVersion(ref);
    expect(created.version).toBe(2);
    expect(Buffer.from(created.spki).equals(await spkiOf(winner!))).toBe(true);
    expect(await aliasTarget(`alias/${key}/v2`)).toBe(winner);
    expect((await moto.send(new DescribeKeyCommand({ KeyId: orphan }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    await replica.close();
  });

  it('health is ok', async () => {
    expect(await backend.health()).toMatchObject({ ok: true });
  });
});

describe('moto differs from AWS (checked here; production code follows AWS)', () => {
  let motoUrl: string;
  let moto: KMSClient;
  beforeAll(() => {
    motoUrl = inject('motoUrl');
    moto = motoClient(motoUrl);
  });
  afterAll(() => moto.destroy());

  const message = Buffer.from('eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJtb3RvIn0');

  it('PS256: moto uses the maximum PSS salt, not the hash-length salt JWS requires, so jose rejects its signatures', async () => {
    const key = uniqueKey('pss');
    await provisionKmsVersion(motoUrl, key, 'PS256');
    const backend = new AwsKmsBackend(options(motoUrl));
    const ref = refOf(key, 'PS256');
    const [version] = await backend.listVersions(ref);
    const signature = await backend.sign(ref, 1, message);
    const publicKey = createPublicKey({ key: Buffer.from(version!.spki), format: 'der', type: 'spki' });
    const pss = (saltLength: number): boolean => verify('sha256', message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    expect(pss(constants.RSA_PSS_SALTLEN_MAX_SIGN)).toBe(true);
    expect(pss(constants.RSA_PSS_SALTLEN_AUTO)).toBe(true);
    expect(pss(2048 / 8 - 32 - 2)).toBe(true); // the maximum for RSA-2048 with SHA-256: 222 bytes
    expect(pss(constants.RSA_PSS_SALTLEN_DIGEST)).toBe(false); // RFC 7518 §3.5 and real KMS: 32 bytes
    const jwk = await spkiToJwk(version!.spki, 'PS256');
    const jws = `${message.toString()}.${Buffer.from(signature).toString('base64url')}`;
    await expect(compactVerify(jws, await importJWK(jwk as JWK, 'PS256'))).rejects.toThrow(/signature verification failed/);
    await backend.close();
  });

  it('the same backend code signs PS256 that jose accepts when KMS behaves as AWS documents (fake client)', async () => {
    const fake = new FakeKms();
    const key = fake.addKey('RSA_2048', ['alias/pss/v1']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    const signature = await backend.sign(refOf('pss', 'PS256'), 1, message);
    const jwk = await spkiToJwk(key.spki, 'PS256');
    const jws = `${message.toString()}.${Buffer.from(signature).toString('base64url')}`;
    await expect(compactVerify(jws, await importJWK(jwk as JWK, 'PS256'))).resolves.toBeDefined();
  });

  it('has no Ed25519 keys', async () => {
    const error = await moto.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ValidationException' });
  });

  it('ignores MessageType: a DIGEST is hashed again, so DIGEST signatures do not verify (the >4096-byte path is tested with a fake)', async () => {
    const keyId = await provisionKmsVersion(motoUrl, uniqueKey('digest'), 'ES256');
    const digest = createHash('sha256').update(message).digest();
    const { Signature } = await moto.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    const publicKey = createPublicKey({ key: await spki(moto, keyId), format: 'der', type: 'spki' });
    expect(verify('sha256', message, publicKey, Signature!)).toBe(false);
    expect(verify('sha256', digest, publicKey, Signature!)).toBe(true);
  });

  it('accepts RAW messages over 4096 bytes (AWS rejects them)', async () => {
    const keyId = await provisionKmsVersion(motoUrl, uniqueKey('raw'), 'ES256');
    const big = Buffer.alloc(KMS_RAW_MESSAGE_LIMIT + 1, 0x61);
    await expect(moto.send(new SignCommand({ KeyId: keyId, Message: big, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }))).resolves.toBeDefined();
  });

  it('signs with, and returns the public key of, a disabled key (AWS refuses both)', async () => {
    const keyId = await provisionKmsVersion(motoUrl, uniqueKey('disabled'), 'ES256');
    await moto.send(new DisableKeyCommand({ KeyId: keyId }));
    await expect(moto.send(new SignCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }))).resolves.toBeDefined();
    await expect(moto.send(new GetPublicKeyCommand({ KeyId: keyId }))).resolves.toBeDefined();
  });

  it('GetPublicKey omits KeySpec and carries only CustomerMasterKeySpec', async () => {
    const keyId = await provisionKmsVersion(motoUrl, uniqueKey('spec'), 'ES256K');
    const response = await moto.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(response.KeySpec).toBeUndefined();
    expect(response.CustomerMasterKeySpec).toBe('ECC_SECG_P256K1');
  });

  it('ignores ListAliases Limit and never paginates (pagination is tested with a fake)', async () => {
    await provisionKmsVersion(motoUrl, uniqueKey('page'), 'ES256');
    const page = await moto.send(new ListAliasesCommand({ Limit: 1 }));
    expect(page.Aliases!.length).toBeGreaterThan(1);
    expect(page.Truncated).toBe(false);
  });
});

async function spki(client: KMSClient, keyId: string): Promise<Buffer> {
  return Buffer.from((await client.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
}

describe('AWS KMS backend with a fake client (AWS behaviour moto cannot show)', () => {
  it('pages through ListAliases with NextMarker', async () => {
    const fake = new FakeKms();
    fake.pageSize = 2;
    for (const n of [1, 2, 3]) fake.addKey('ECC_NIST_P256', [`alias/paged/v${n}`]);
    fake.addKey('ECC_NIST_P256', ['alias/other/v1', 'alias/another/v1', 'alias/paged']);
    fake.addKey('ECC_NIST_P256', ['alias/paged/v4']); // on the last page
    const versions = await new AwsKmsBackend(fakeOptions(), fake).listVersions(refOf('paged'));
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    expect(fake.callsTo('listAliases').map((input) => input.Marker)).toEqual([undefined, '2', '4', '6']);
  });

  it('rings refreshed together share one alias listing; public keys are fetched once, key states every time', async () => {
    const fake = new FakeKms();
    for (const ring of ['a', 'b', 'c']) fake.addKey('ECC_NIST_P256', [`alias/${ring}/v1`]);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    await Promise.all(['a', 'b', 'c'].map((ring) => backend.listVersions(refOf(ring))));
    expect(fake.callsTo('listAliases')).toHaveLength(1);
    await Promise.all(['a', 'b', 'c'].map((ring) => backend.listVersions(refOf(ring))));
    expect(fake.callsTo('listAliases')).toHaveLength(2);
    expect(fake.callsTo('getPublicKey')).toHaveLength(3);
    expect(fake.callsTo('describeKey')).toHaveLength(6);
  });

  it('a disabled version is reported disabled; one whose public key KMS now refuses (never seen before) is left out', async () => {
    const fake = new FakeKms();
    const v1 = fake.addKey('ECC_NIST_P256', ['alias/dis/v1']);
    const v2 = fake.addKey('ECC_NIST_P256', ['alias/dis/v2']);
    fake.addKey('ECC_NIST_P256', ['alias/dis/v3']);
    const seen = new AwsKmsBackend(fakeOptions(), fake);
    await seen.listVersions(refOf('dis'));
    v1.state = 'Disabled';
    v2.state = 'PendingDeletion';
    const versions = await seen.listVersions(refOf('dis'));
    expect(versions.map((v) => [v.version, v.disabled === true])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    // A replica starting now cannot get those public keys (AWS: DisabledException / KMSInvalidStateException).
    const fresh = new AwsKmsBackend(fakeOptions(), fake);
    expect((await fresh.listVersions(refOf('dis'))).map((v) => v.version)).toEqual([3]);
  });

  it.each([
    ['ES256', 'sha256', 'ECDSA_SHA_256', 'ECC_NIST_P256'],
    ['ES384', 'sha384', 'ECDSA_SHA_384', 'ECC_NIST_P384'],
    ['ES512', 'sha512', 'ECDSA_SHA_512', 'ECC_NIST_P521'],
    ['RS384', 'sha384', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSA_2048'],
    ['PS512', 'sha512', 'RSASSA_PSS_SHA_512', 'RSA_2048'],
  ] as const)('%s: up to 4096 bytes is signed RAW, longer inputs as a %s DIGEST', async (alg, hash, algorithm, spec) => {
    const fake = new FakeKms();
    fake.addKey(spec, ['alias/big/v1']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    const ref = refOf('big', alg);
    const atLimit = randomBytes(KMS_RAW_MESSAGE_LIMIT);
    const over = randomBytes(KMS_RAW_MESSAGE_LIMIT + 1);
    await backend.sign(ref, 1, atLimit);
    await backend.sign(ref, 1, over);
    const [raw, digest] = fake.callsTo('sign');
    expect(raw).toMatchObject({ MessageType: 'RAW', SigningAlgorithm: algorithm });
    expect(Buffer.from(raw!.Message).equals(atLimit)).toBe(true);
    expect(digest).toMatchObject({ MessageType: 'DIGEST', SigningAlgorithm: algorithm });
    expect(Buffer.from(digest!.Message).equals(createHash(hash).update(over).digest())).toBe(true);
  });

  it('RS256 over 4096 bytes: the DIGEST signature verifies over the whole input', async () => {
    const fake = new FakeKms();
    const key = fake.addKey('RSA_2048', ['alias/bigrsa/v1']);
    const input = Buffer.from(`${'a'.repeat(3000)}.${'b'.repeat(3000)}`);
    const signature = await new AwsKmsBackend(fakeOptions(), fake).sign(refOf('bigrsa', 'RS256'), 1, input);
    expect(fake.callsTo('sign')[0]).toMatchObject({ MessageType: 'DIGEST' });
    expect(verify('sha256', input, createPublicKey({ key: key.spki, format: 'der', type: 'spki' }), signature)).toBe(true);
  });

  it('EdDSA: signs RAW with ED25519_SHA_512, and refuses over 4096 bytes with ERR_INVALID_REQUEST (KMS digest mode is Ed25519ph)', async () => {
    const fake = new FakeKms();
    const key = fake.addKey('ECC_NIST_EDWARDS25519', ['alias/ed/v1']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    const ref = refOf('ed', 'EdDSA');
    const input = Buffer.from('header.payload');
    const signature = await backend.sign(ref, 1, input);
    expect(fake.callsTo('sign')[0]).toMatchObject({ MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' });
    expect(verify(null, input, createPublicKey({ key: key.spki, format: 'der', type: 'spki' }), signature)).toBe(true);
    const error = await failure(backend.sign(ref, 1, randomBytes(KMS_RAW_MESSAGE_LIMIT + 1)));
    expect(error).toMatchObject({ code: 'ERR_INVALID_REQUEST', status: 400 });
    expect(fake.callsTo('sign')).toHaveLength(1);
  });

  it('ThrottlingException (after the SDK retried) is ERR_BACKEND_THROTTLED, 503, Retry-After 1', async () => {
    const fake = new FakeKms();
    fake.addKey('ECC_NIST_P256', ['alias/thr/v1']);
    fake.failures.sign = () => kmsException('ThrottlingException', { attempts: 3 });
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    const error = await failure(backend.sign(refOf('thr'), 1, Buffer.from('a.b')));
    expect(error).toMatchObject({ code: 'ERR_BACKEND_THROTTLED', status: 503, retryAfterSeconds: 1 });
    expect(error.message).toContain('after 3 attempts');
    fake.failures.listAliases = () => kmsException('ThrottlingException');
    expect((await failure(backend.listVersions(refOf('thr')))).code).toBe('ERR_BACKEND_THROTTLED');
  });

  it('maps every KMS failure to a typed error', () => {
    const ref = refOf('map');
    const cases: Array<[unknown, number | undefined, string, number]> = [
      [kmsException('ThrottlingException'), 1, 'ERR_BACKEND_THROTTLED', 503],
      [kmsException('SomethingNew', { status: 429 }), 1, 'ERR_BACKEND_THROTTLED', 503],
      [kmsException('LimitExceededException'), undefined, 'ERR_BACKEND_THROTTLED', 503],
      [kmsException('NotFoundException'), undefined, 'ERR_BACKEND_KEY_MISSING', 502],
      [kmsException('NotFoundException'), 3, 'ERR_BACKEND_VERSION_MISSING', 502],
      [kmsException('AccessDeniedException'), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [kmsException('UnrecognizedClientException'), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [kmsException('DisabledException'), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [kmsException('KMSInternalException', { status: 500 }), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [kmsException('KeyUnavailableException', { status: 500 }), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [kmsException('Weird', { status: 502 }), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [kmsException('ValidationException'), 1, 'ERR_BACKEND_RESPONSE', 502],
      [kmsException('InvalidKeyUsageException'), 1, 'ERR_BACKEND_RESPONSE', 502],
      ['a string', 1, 'ERR_BACKEND_UNAVAILABLE', 503],
      [undefined, 1, 'ERR_BACKEND_UNAVAILABLE', 503],
    ];
    for (const [error, version, code, status] of cases) {
      const mapped = kmsError(error, ref, 'Sign', version);
      expect(mapped, String((error as Error | undefined)?.name ?? error)).toBeInstanceOf(GatewayError);
      expect({ code: mapped.code, status: mapped.status }).toEqual({ code, status });
      if (status === 503) expect(mapped.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    expect(kmsError(kmsException('AccessDeniedException'), ref, 'Sign').message).toMatch(/IAM policy/);
  });

  it('the race path: CreateAlias loses to another replica, the orphan is scheduled for deletion (7 days), the winner is returned', async () => {
    const fake = new FakeKms();
    fake.addKey('ECC_NIST_P256', ['alias/race/v1']);
    let winner: ReturnType<FakeKms['addKey']> | undefined;
    fake.before.createAlias = (input: { AliasName: string }) => {
      if (input.AliasName === 'alias/race/v2' && !winner) winner = fake.addKey('ECC_NIST_P256', ['alias/race/v2']);
    };
    const created = await new AwsKmsBackend(fakeOptions(), fake).createVersion(refOf('race'));
    expect(created.version).toBe(2);
    expect(Buffer.from(created.spki).equals(winner!.spki)).toBe(true);
    const orphan = fake.callsTo('createAlias')[0]!.TargetKeyId as string;
    expect(orphan).not.toBe(winner!.keyId);
    expect(fake.callsTo('scheduleKeyDeletion')).toEqual([{ KeyId: orphan, PendingWindowInDays: 7 }]);
    expect(fake.keys.get(orphan)!.state).toBe('PendingDeletion');
    expect(fake.aliases.get('alias/race/v2')).toBe(winner!.keyId);
  });

  it('any other CreateAlias failure also discards the orphan, and surfaces the CreateAlias error even if the clean-up fails', async () => {
    const fake = new FakeKms();
    fake.addKey('ECC_NIST_P256', ['alias/orph/v1']);
    fake.failures.createAlias = () => kmsException('ThrottlingException');
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    expect((await failure(backend.createVersion(refOf('orph')))).code).toBe('ERR_BACKEND_THROTTLED');
    expect(fake.callsTo('scheduleKeyDeletion')).toHaveLength(1);
    fake.failures.scheduleKeyDeletion = () => kmsException('AccessDeniedException');
    expect((await failure(backend.createVersion(refOf('orph')))).code).toBe('ERR_BACKEND_THROTTLED');
  });

  it('concurrent createVersion calls in one process share one creation', async () => {
    const fake = new FakeKms();
    fake.addKey('ECC_NIST_P256', ['alias/once/v1']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    const [a, b] = await Promise.all([backend.createVersion(refOf('once')), backend.createVersion(refOf('once'))]);
    expect([a.version, b.version]).toEqual([2, 2]);
    expect(fake.callsTo('createKey')).toHaveLength(1);
    expect((await backend.createVersion(refOf('once'))).version).toBe(3); // and the next call is a new one
  });

  it('two replicas running ensureKey at once end with one v1 and one orphan scheduled for deletion', async () => {
    const fake = new FakeKms();
    const replicas = [new AwsKmsBackend(fakeOptions(), fake), new AwsKmsBackend(fakeOptions(), fake)];
    await Promise.all(replicas.map((replica) => replica.ensureKey(refOf('boot'))));
    expect([...fake.aliases.keys()]).toEqual(['alias/boot/v1']);
    expect(fake.callsTo('createKey')).toHaveLength(2); // both saw no versions
    expect(fake.callsTo('scheduleKeyDeletion')).toHaveLength(1);
    for (const replica of replicas) expect((await replica.listVersions(refOf('boot'))).map((v) => v.version)).toEqual([1]);
  });

  it('CreateKey asks for the first key spec of the alg, SIGN_VERIFY, with the ring and version tags', async () => {
    const fake = new FakeKms();
    fake.addKey('RSA_3072', ['alias/tags/v1']);
    await new AwsKmsBackend(fakeOptions(), fake).createVersion(refOf('tags', 'RS256'));
    expect(fake.callsTo('createKey')[0]).toMatchObject({
      KeySpec: 'RSA_2048',
      KeyUsage: 'SIGN_VERIFY',
      Tags: [
        { TagKey: 'signet:ring', TagValue: 'tags' },
        { TagKey: 'signet:version', TagValue: '2' },
      ],
    });
  });

  it('sign finds a version another replica created since the last listing; an unknown version is ERR_BACKEND_VERSION_MISSING', async () => {
    const fake = new FakeKms();
    fake.addKey('ECC_NIST_P256', ['alias/late/v1']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    await backend.listVersions(refOf('late'));
    fake.addKey('ECC_NIST_P256', ['alias/late/v2']);
    await expect(backend.sign(refOf('late'), 2, Buffer.from('a.b'))).resolves.toHaveLength(64);
    expect((await failure(backend.sign(refOf('late'), 3, Buffer.from('a.b')))).code).toBe('ERR_BACKEND_VERSION_MISSING');
  });

  it('markSigning creates alias/<key> if missing, and survives another replica creating it first', async () => {
    const fake = new FakeKms();
    const v1 = fake.addKey('ECC_NIST_P256', ['alias/ms/v1']);
    const v2 = fake.addKey('ECC_NIST_P256', ['alias/ms/v2']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    fake.before.createAlias = (input: { AliasName: string }) => {
      if (input.AliasName === 'alias/ms') fake.aliases.set('alias/ms', v1.keyId);
    };
    await backend.markSigning(refOf('ms'), 2);
    expect(fake.aliases.get('alias/ms')).toBe(v2.keyId);
    expect(fake.calls.map((c) => c.op).filter((op) => op !== 'listAliases')).toEqual(['updateAlias', 'createAlias', 'updateAlias']);
  });

  it('markSigning makes no UpdateAlias call when the last listing shows alias/<key> already on that version (every replica calls it)', async () => {
    const fake = new FakeKms();
    const v1 = fake.addKey('ECC_NIST_P256', ['alias/quiet/v1', 'alias/quiet']);
    fake.addKey('ECC_NIST_P256', ['alias/quiet/v2']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    await backend.listVersions(refOf('quiet'));
    await backend.markSigning(refOf('quiet'), 1);
    expect(fake.callsTo('updateAlias')).toHaveLength(0);
    await backend.markSigning(refOf('quiet'), 2);
    await backend.markSigning(refOf('quiet'), 2);
    expect(fake.callsTo('updateAlias')).toHaveLength(1);
    expect(fake.aliases.get('alias/quiet')).not.toBe(v1.keyId);
  });

  it('a malformed DER signature from KMS is ERR_MALFORMED_DER, never a plain Error', async () => {
    const fake = new FakeKms();
    fake.addKey('ECC_NIST_P256', ['alias/der/v1']);
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    for (const bad of ['3006020101', '3003 1e0100', '']) {
      fake.sign = async () => ({ KeyId: 'key', Signature: new Uint8Array(Buffer.from(bad.replace(/ /g, ''), 'hex')), SigningAlgorithm: 'ECDSA_SHA_256' as never });
      const error = await failure(backend.sign(refOf('der'), 1, Buffer.from('a.b')));
      expect(error.code).toBe(bad === '' ? 'ERR_BACKEND_RESPONSE' : 'ERR_MALFORMED_DER');
    }
  });

  it('the client-side pace limit fails fast with ERR_BACKEND_THROTTLED and makes no KMS call', async () => {
    const fake = new FakeKms();
    fake.addKey('ECC_NIST_P256', ['alias/pace/v1']);
    let now = 0;
    const backend = new AwsKmsBackend(fakeOptions({ signRatePerRing: 2 }), fake, { now: () => now, sleep: async () => undefined });
    await backend.sign(refOf('pace'), 1, Buffer.from('a.b'));
    await backend.sign(refOf('pace'), 1, Buffer.from('a.b'));
    const error = await failure(backend.sign(refOf('pace'), 1, Buffer.from('a.b')));
    expect(error).toMatchObject({ code: 'ERR_BACKEND_THROTTLED', retryAfterSeconds: 1 });
    expect(fake.callsTo('sign')).toHaveLength(2);
    now += 1000;
    await backend.sign(refOf('pace'), 1, Buffer.from('a.b'));
  });

  it('refuses key names that cannot be KMS aliases; close destroys the client', async () => {
    const fake = new FakeKms();
    const backend = new AwsKmsBackend(fakeOptions(), fake);
    for (const key of ['aws', 'aws/ebs', 'has space', 'dots.not.allowed']) {
      expect((await failure(backend.listVersions(refOf(key)))).code).toBe('ERR_INVALID_REQUEST');
    }
    await backend.close();
    expect(fake.destroyed).toBe(true);
  });
});

describe('infra/aws IAM policies', () => {
  const render = (file: string): { Statement: Array<{ Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, unknown>> }> } =>
    JSON.parse(
      readFileSync(new URL(`../infra/aws/${file}`, import.meta.url), 'utf8').replace(/\$\{(\w+)\}/g, (_, name: string) => ({ region: 'us-east-1', account_id: '111122223333', ring_key: 'auth', key_spec: 'ECC_NIST_P256' })[name] ?? `<unknown ${name}>`),
    );
  const actions = (policy: ReturnType<typeof render>): Set<string> => new Set(policy.Statement.flatMap((s) => [s.Action].flat()));

  it('grant every KMS action the backend calls, and nothing else', () => {
    // Every method of the SDK adapter except destroy sends exactly one KMS command.
    const called = Object.keys(sdkKmsApi({} as KMSClient))
      .filter((name) => name !== 'destroy')
      .map((name) => `kms:${name[0]!.toUpperCase()}${name.slice(1)}`);
    const signer = actions(render('signer-policy.json'));
    const rotator = actions(render('rotator-policy.json'));
    expect([...signer].sort()).toEqual(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:ListAliases', 'kms:Sign']);
    expect([...rotator].sort()).toEqual(['kms:CreateAlias', 'kms:CreateKey', 'kms:DisableKey', 'kms:ScheduleKeyDeletion', 'kms:TagResource', 'kms:UpdateAlias']);
    expect(new Set([...signer, ...rotator, 'kms:TagResource'])).toEqual(new Set([...called, 'kms:TagResource'])); // TagResource: implied by CreateKey with Tags
    expect(JSON.stringify([render('signer-policy.json'), render('rotator-policy.json')])).not.toContain('<unknown');
  });

  it('scope Sign to the ring\'s version aliases and key management to the ring\'s tag', () => {
    const sign = render('signer-policy.json').Statement.find((s) => [s.Action].flat().includes('kms:Sign'))!;
    expect(sign.Condition).toEqual({ 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/auth/v*' } });
    for (const statement of render('rotator-policy.json').Statement) {
      const onKeys = [statement.Resource].flat().some((r) => r === '*' || r.includes(':key/'));
      if (onKeys) expect(JSON.stringify(statement.Condition)).toContain('"auth"');
    }
  });
});

describe('AWS KMS backend through the real SDK against a stub endpoint (retries, timeouts, error parsing)', () => {
  interface Stub {
    url: string;
    requests: string[];
    close(): Promise<void>;
  }
  type Reply = { status: number; body: unknown; delayMs?: number };

  async function stub(reply: (target: string) => Reply): Promise<Stub> {
    const requests: string[] = [];
    const server: Server = createServer((request: IncomingMessage, response) => {
      request.resume();
      request.on('end', () => {
        const target = String(request.headers['x-amz-target'] ?? '').replace('TrentService.', '');
        requests.push(target);
        const { status, body, delayMs } = reply(target);
        setTimeout(() => {
          if (response.destroyed) return;
          response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'stub' });
          response.end(JSON.stringify(body));
        }, delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requests,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  const aliases: Reply = { status: 200, body: { Aliases: [{ AliasName: 'alias/stub/v1', TargetKeyId: 'key-1' }], Truncated: false } };
  const kmsErrorReply = (type: string, status = 400): Reply => ({ status, body: { __type: type, message: `${type} from stub` } });

  async function signVia(reply: (target: string) => Reply, overrides: Partial<AwsKmsOptions> = {}): Promise<{ error: GatewayError; signs: number; ms: number }> {
    const server = await stub((target) => (target === 'ListAliases' ? aliases : reply(target)));
    const backend = new AwsKmsBackend(options(server.url, overrides));
    const started = Date.now();
    try {
      const error = await failure(backend.sign(refOf('stub'), 1, Buffer.from('a.b')));
      return { error, signs: server.requests.filter((r) => r === 'Sign').length, ms: Date.now() - started };
    } finally {
      await backend.close();
      await server.close();
    }
  }

  it('ThrottlingException is retried up to max_attempts, then ERR_BACKEND_THROTTLED with Retry-After', async () => {
    const { error, signs } = await signVia(() => kmsErrorReply('ThrottlingException'), { maxAttempts: 2 });
    expect(signs).toBe(2);
    expect(error).toMatchObject({ code: 'ERR_BACKEND_THROTTLED', status: 503, retryAfterSeconds: 1 });
  });

  it('HTTP 500 is retried, then ERR_BACKEND_UNAVAILABLE', async () => {
    const { error, signs } = await signVia(() => kmsErrorReply('KMSInternalException', 500), { maxAttempts: 3 });
    expect(signs).toBe(3);
    expect(error).toMatchObject({ code: 'ERR_BACKEND_UNAVAILABLE', status: 503 });
  });

  it('AccessDeniedException is not retried and points at the IAM policy', async () => {
    const { error, signs } = await signVia(() => kmsErrorReply('AccessDeniedException'), { maxAttempts: 3 });
    expect(signs).toBe(1);
    expect(error).toMatchObject({ code: 'ERR_BACKEND_UNAVAILABLE', status: 503 });
    expect(error.message).toMatch(/IAM policy/);
  });

  it('NotFoundException for a version\'s key is 502 ERR_BACKEND_VERSION_MISSING', async () => {
    const { error } = await signVia(() => kmsErrorReply('NotFoundException'));
    expect(error).toMatchObject({ code: 'ERR_BACKEND_VERSION_MISSING', status: 502 });
  });

  it('a KMS that does not answer within timeout_ms is ERR_BACKEND_UNAVAILABLE, per attempt', async () => {
    const { error, signs, ms } = await signVia(() => ({ status: 200, body: {}, delayMs: 3000 }), { timeoutMs: 200, maxAttempts: 2 });
    expect(error.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(signs).toBe(2);
    expect(ms).toBeLessThan(2500);
  });

  it('an unreachable endpoint is ERR_BACKEND_UNAVAILABLE and health is not ok', async () => {
    const server = await stub(() => aliases);
    const url = server.url;
    await server.close(); // nothing listens there now
    const backend = new AwsKmsBackend(options(url, { maxAttempts: 1 }));
    expect((await failure(backend.listVersions(refOf('stub')))).code).toBe('ERR_BACKEND_UNAVAILABLE');
    const health = await backend.health();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/unreachable/);
    await backend.close();
  });
});

describe('a gateway with KMS rings, end to end', () => {
  const algs: JwsAlg[] = ['ES256', 'ES384', 'ES512', 'ES256K', 'RS256'];
  const ringName = (alg: JwsAlg): string => `kms-${alg.toLowerCase()}`;
  const keyName = (alg: JwsAlg): string => `e2e-${suffix}-${alg.toLowerCase()}`;
  let gateway: RunningGateway;
  let motoUrl: string;

  beforeAll(async () => {
    motoUrl = inject('motoUrl');
    for (const alg of algs) await provisionKmsVersion(motoUrl, keyName(alg), alg);
    gateway = await startGateway(
      configFrom({
        backends: { kms: { type: 'aws-kms', region: MOTO_REGION, endpoint: motoUrl } },
        rings: algs.map((alg) => ({ name: ringName(alg), backend: 'kms', key: keyName(alg), alg, issuer: 'https://issuer.test' })),
        clients: [openClient()],
      }),
    );
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it.each(algs)('%s: POST /v1/tokens issues a JWT that verifies against the served JWKS; kid is the RFC 7638 thumbprint', async (alg) => {
    const audience = 'https://api.test';
    const response = await requestToken(gateway.url, { audience, subject: 'user-42', key: ringName(alg), claims: { scope: 'read' } });
    expect(response.status).toBe(200);
    const jwksUrl = `${gateway.url}/.well-known/jwks.json`;
    const { payload, protectedHeader } = await remoteVerifier(jwksUrl, alg).jwtVerify(response.body.token, { issuer: 'https://issuer.test', audience });
    expect(protectedHeader).toMatchObject({ alg, kid: response.body.kid });
    expect(payload).toMatchObject({ sub: 'user-42', scope: 'read' });
    const jwks = (await (await fetch(jwksUrl)).json()) as { keys: JWK[] };
    const jwk = jwks.keys.find((key) => key.kid === response.body.kid)!;
    expect(jwk).toMatchObject({ alg, use: 'sig' });
    expect(await calculateJwkThumbprint(jwk, 'sha256')).toBe(response.body.kid);
  });

  it('a version disabled in KMS is treated as revoked: it leaves the JWKS and the next version signs', async () => {
    const ring = gateway.app.signet.keys.ring(ringName('ES256'));
    const oldKid = ring.kidOf(1)!;
    await ring.backend.createVersion(ring.ref);
    await ring.backend.revokeVersion!(ring.ref, { version: 1, reason: 'by hand', at: Date.now() });
    await gateway.app.signet.refresh.refreshRing(ring);
    const jwks = (await (await fetch(`${gateway.url}/rings/${ring.name}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual([ring.kidOf(2)]);
    const response = await requestToken(gateway.url, { audience: 'https://api.test', key: ring.name });
    expect(response.status).toBe(200);
    expect(response.body.kid).toBe(ring.kidOf(2));
    expect(response.body.kid).not.toBe(oldKid);
  });
});
