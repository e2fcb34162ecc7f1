// An in-memory KmsApi that follows AWS's documented behaviour where moto does not (4096-byte RAW
// limit, DisabledException for disabled keys, ListAliases pagination), records every call, and
// lets a test make any call fail. Keys are real node:crypto keys, so signatures verify.
import { constants, createPublicKey, generateKeyPairSync, privateEncrypt, randomUUID, sign as nodeSign, type KeyObject } from 'node:crypto';
import { KMSServiceException, type AliasListEntry, type KeyMetadata } from '@aws-sdk/client-kms';
import type { KmsApi } from '../../src/backends/aws-kms/index.js';

type Op = Exclude<keyof KmsApi, 'destroy'>;

export interface FakeKey {
  keyId: string;
  spec: string;
  state: 'Enabled' | 'Disabled' | 'PendingDeletion';
  createdAt: Date;
  privateKey: KeyObject;
  spki: Buffer;
  tags: Array<{ TagKey?: string; TagValue?: string }>;
}

/** An error shaped exactly like the SDK's after it parsed a KMS error response. */
export function kmsException(name: string, options: { status?: number; fault?: 'client' | 'server'; attempts?: number } = {}): KMSServiceException {
  return new KMSServiceException({
    name,
    message: `${name} (fake)`,
    $fault: options.fault ?? ((options.status ?? 400) >= 500 ? 'server' : 'client'),
    $metadata: { httpStatusCode: options.status ?? 400, attempts: options.attempts ?? 1 },
  });
}

const EC_CURVES: Record<string, string> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
};
const HASHES: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
// DER DigestInfo prefixes (RFC 8017 §9.2 note 1), to sign a DIGEST with PKCS#1 v1.5 as KMS does.
const DIGEST_INFO: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function generate(spec: string): KeyObject {
  if (EC_CURVES[spec]) return generateKeyPairSync('ec', { namedCurve: EC_CURVES[spec] }).privateKey;
  if (spec.startsWith('RSA_')) return generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) }).privateKey;
  if (spec === 'ECC_NIST_EDWARDS25519') return generateKeyPairSync('ed25519').privateKey;
  throw kmsException('ValidationException');
}

function signingAlgorithms(spec: string): string[] {
  if (spec.startsWith('RSA_')) return ['256', '384', '512'].flatMap((bits) => [`RSASSA_PKCS1_V1_5_SHA_${bits}`, `RSASSA_PSS_SHA_${bits}`]);
  if (spec === 'ECC_NIST_EDWARDS25519') return ['ED25519_SHA_512'];
  return [{ ECC_NIST_P256: 'ECDSA_SHA_256', ECC_SECG_P256K1: 'ECDSA_SHA_256', ECC_NIST_P384: 'ECDSA_SHA_384', ECC_NIST_P521: 'ECDSA_SHA_512' }[spec]!];
}

export class FakeKms implements KmsApi {
  readonly keys = new Map<string, FakeKey>();
  readonly aliases = new Map<string, string>();
  readonly calls: Array<{ op: Op; input: Record<string, unknown> }> = [];
  /** Called before each operation; return an error to make the call fail with it. */
  readonly failures: Partial<Record<Op, (input: any) => unknown>> = {};
  /** Called before each operation (after failures), e.g. to play another replica. */
  readonly before: Partial<Record<Op, (input: any) => void | Promise<void>>> = {};
  pageSize = 100;
  destroyed = false;

  callsTo(op: Op): Array<Record<string, any>> {
    return this.calls.filter((c) => c.op === op).map((c) => c.input);
  }

  private async enter(op: Op, input: object): Promise<void> {
    this.calls.push({ op, input: input as Record<string, unknown> });
    await Promise.resolve(); // asynchronous like the real thing, so concurrent callers interleave
    const failure = this.failures[op]?.(input);
    if (failure) throw failure;
    await this.before[op]?.(input);
  }

  /** Creates a key and, optionally, aliases for it, out of band (as Terraform would). */
  addKey(spec: string, aliasNames: string[] = []): FakeKey {
    const privateKey = generate(spec);
    const key: FakeKey = {
      keyId: randomUUID(),
      spec,
      state: 'Enabled',
      createdAt: new Date(),
      privateKey,
      spki: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }),
      tags: [],
    };
    this.keys.set(key.keyId, key);
    for (const name of aliasNames) this.aliases.set(name, key.keyId);
    return key;
  }

  private key(keyId: unknown): FakeKey {
    const key = this.keys.get(String(keyId)) ?? this.keys.get(this.aliases.get(String(keyId)) ?? '');
    if (!key) throw kmsException('NotFoundException');
    return key;
  }

  private usable(key: FakeKey): void {
    if (key.state === 'Disabled') throw kmsException('DisabledException');
    if (key.state === 'PendingDeletion') throw kmsException('KMSInvalidStateException');
  }

  private metadata(key: FakeKey): KeyMetadata {
    return {
      KeyId: key.keyId,
      Arn: `arn:aws:kms:us-east-1:111122223333:key/${key.keyId}`,
      CreationDate: key.createdAt,
      KeyState: key.state,
      Enabled: key.state === 'Enabled',
      KeyUsage: 'SIGN_VERIFY',
      KeySpec: key.spec as KeyMetadata['KeySpec'],
      SigningAlgorithms: signingAlgorithms(key.spec) as KeyMetadata['SigningAlgorithms'],
    };
  }

  async listAliases(input: { Limit?: number; Marker?: string }) {
    await this.enter('listAliases', input);
    const all: AliasListEntry[] = [...this.aliases].map(([AliasName, TargetKeyId]) => ({ AliasName, TargetKeyId }));
    const start = input.Marker ? Number(input.Marker) : 0;
    const size = Math.min(input.Limit ?? 50, this.pageSize);
    const end = start + size;
    return { Aliases: all.slice(start, end), Truncated: end < all.length, ...(end < all.length ? { NextMarker: String(end) } : {}) };
  }

  async getPublicKey(input: { KeyId?: string }) {
    await this.enter('getPublicKey', input);
    const key = this.key(input.KeyId);
    this.usable(key); // AWS refuses GetPublicKey on disabled keys; moto does not
    return { KeyId: key.keyId, PublicKey: new Uint8Array(key.spki), KeySpec: key.spec as KeyMetadata['KeySpec'], KeyUsage: 'SIGN_VERIFY' as const, SigningAlgorithms: this.metadata(key).SigningAlgorithms };
  }

  async describeKey(input: { KeyId?: string }) {
    await this.enter('describeKey', input);
    return { KeyMetadata: this.metadata(this.key(input.KeyId)) };
  }

  async sign(input: { KeyId?: string; Message?: Uint8Array; MessageType?: string; SigningAlgorithm?: string }) {
    await this.enter('sign', input);
    const key = this.key(input.KeyId);
    this.usable(key);
    const message = Buffer.from(input.Message ?? []);
    const algorithm = input.SigningAlgorithm ?? '';
    if (!signingAlgorithms(key.spec).includes(algorithm)) throw kmsException('InvalidKeyUsageException');
    if (input.MessageType !== 'DIGEST' && message.length > 4096) throw kmsException('ValidationException');
    const hash = HASHES[algorithm.slice(-3)];
    let signature: Buffer;
    if (algorithm === 'ED25519_SHA_512') {
      if (input.MessageType === 'DIGEST') throw kmsException('ValidationException');
      signature = nodeSign(null, message, key.privateKey);
    } else if (input.MessageType === 'DIGEST') {
      if (!algorithm.startsWith('RSASSA_PKCS1')) {
        // node:crypto cannot sign a precomputed digest with ECDSA or PSS: return a well-formed
        // signature over the wrong bytes. Tests of the DIGEST path assert on the request instead.
        signature = nodeSign(hash!, message, { key: key.privateKey, dsaEncoding: 'der' });
      } else {
        signature = privateEncrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([Buffer.from(DIGEST_INFO[hash!]!, 'hex'), message]));
      }
    } else if (algorithm.startsWith('RSASSA_PSS')) {
      signature = nodeSign(hash!, message, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
    } else {
      signature = nodeSign(hash!, message, { key: key.privateKey, dsaEncoding: 'der' });
    }
    return { KeyId: `arn:aws:kms:us-east-1:111122223333:key/${key.keyId}`, Signature: new Uint8Array(signature), SigningAlgorithm: algorithm as never };
  }

  async createKey(input: { KeySpec?: string; Tags?: FakeKey['tags'] }) {
    await this.enter('createKey', input);
    const key = this.addKey(input.KeySpec ?? 'SYMMETRIC_DEFAULT');
    key.tags = input.Tags ?? [];
    return { KeyMetadata: this.metadata(key) };
  }

  async createAlias(input: { AliasName?: string; TargetKeyId?: string }) {
    await this.enter('createAlias', input);
    if (this.aliases.has(input.AliasName!)) throw kmsException('AlreadyExistsException');
    this.aliases.set(input.AliasName!, this.key(input.TargetKeyId).keyId);
    return {};
  }

  async updateAlias(input: { AliasName?: string; TargetKeyId?: string }) {
    await this.enter('updateAlias', input);
    if (!this.aliases.has(input.AliasName!)) throw kmsException('NotFoundException');
    this.aliases.set(input.AliasName!, this.key(input.TargetKeyId).keyId);
    return {};
  }

  async disableKey(input: { KeyId?: string }) {
    await this.enter('disableKey', input);
    this.key(input.KeyId).state = 'Disabled';
    return {};
  }

  async scheduleKeyDeletion(input: { KeyId?: string; PendingWindowInDays?: number }) {
    await this.enter('scheduleKeyDeletion', input);
    if ((input.PendingWindowInDays ?? 30) < 7) throw kmsException('ValidationException');
    this.key(input.KeyId).state = 'PendingDeletion';
    return {};
  }

  destroy(): void {
    this.destroyed = true;
  }
}
