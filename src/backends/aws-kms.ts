// AWS KMS. Asymmetric KMS keys cannot rotate in place, so each version of a ring is its own KMS
// key, named by an alias:
//
//   alias/<key>/v1, alias/<key>/v2, ...   one per version; N orders them and is never reused
//   alias/<key>                           the version that signs now; moved only by markSigning
//
// The alias list is the whole state: any replica rebuilds a ring's versions from ListAliases,
// with no local state and no coordination. Creating a version is CreateKey then CreateAlias
// alias/<key>/v<N>; CreateAlias is atomic, so when two replicas race for the same N exactly one
// wins, and the loser schedules its orphan key for deletion and adopts the winner's version.
// Versions are addressed by KeyId (resolved from their alias), never by alias, so a signature is
// always made by the key whose public key was published for that version.
//
// See docs/aws-kms.md for configuration, IAM policies, and where moto differs from AWS.
import { createHash } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  UpdateAliasCommand,
  type AliasListEntry,
  type CreateAliasCommandInput,
  type CreateKeyCommandInput,
  type CreateKeyCommandOutput,
  type DescribeKeyCommandInput,
  type DescribeKeyCommandOutput,
  type DisableKeyCommandInput,
  type GetPublicKeyCommandInput,
  type GetPublicKeyCommandOutput,
  type KeySpec,
  type ListAliasesCommandInput,
  type ListAliasesCommandOutput,
  type ScheduleKeyDeletionCommandInput,
  type SignCommandInput,
  type SignCommandOutput,
  type SigningAlgorithmSpec,
  type UpdateAliasCommandInput,
} from '@aws-sdk/client-kms';
import { ALGORITHMS, NODE_HASH } from '../jose/algorithms.js';
import { derToJoseSignature } from '../jose/ecdsa.js';
import {
  BackendResponseError,
  BackendThrottledError,
  BackendUnavailableError,
  GatewayError,
  InvalidRequestError,
  MalformedDerError,
  UnknownRingError,
  UnknownVersionError,
  UnsupportedKeyError,
} from '../errors.js';
import { checkSampled, type BackendHealth, type KeyRef, type KeyVersion, type RevocationRecord, type SignatureCheck, type SigningBackend } from './backend.js';
import { Pacer } from './pace.js';

type Output<T> = Omit<T, '$metadata'>;

/** The KMS calls this backend makes, and nothing else; the SDK satisfies it via sdkKmsApi, and so can a test fake. */
export interface KmsApi {
  listAliases(input: ListAliasesCommandInput): Promise<Output<ListAliasesCommandOutput>>;
  getPublicKey(input: GetPublicKeyCommandInput): Promise<Output<GetPublicKeyCommandOutput>>;
  describeKey(input: DescribeKeyCommandInput): Promise<Output<DescribeKeyCommandOutput>>;
  sign(input: SignCommandInput): Promise<Output<SignCommandOutput>>;
  createKey(input: CreateKeyCommandInput): Promise<Output<CreateKeyCommandOutput>>;
  createAlias(input: CreateAliasCommandInput): Promise<unknown>;
  updateAlias(input: UpdateAliasCommandInput): Promise<unknown>;
  disableKey(input: DisableKeyCommandInput): Promise<unknown>;
  scheduleKeyDeletion(input: ScheduleKeyDeletionCommandInput): Promise<unknown>;
  destroy(): void;
}

export function sdkKmsApi(client: KMSClient): KmsApi {
  return {
    listAliases: (input) => client.send(new ListAliasesCommand(input)),
    getPublicKey: (input) => client.send(new GetPublicKeyCommand(input)),
    describeKey: (input) => client.send(new DescribeKeyCommand(input)),
    sign: (input) => client.send(new SignCommand(input)),
    createKey: (input) => client.send(new CreateKeyCommand(input)),
    createAlias: (input) => client.send(new CreateAliasCommand(input)),
    updateAlias: (input) => client.send(new UpdateAliasCommand(input)),
    disableKey: (input) => client.send(new DisableKeyCommand(input)),
    scheduleKeyDeletion: (input) => client.send(new ScheduleKeyDeletionCommand(input)),
    destroy: () => client.destroy(),
  };
}

export interface AwsKmsOptions {
  region: string;
  endpoint?: string;
  /** Client-side pace limit per ring, in Sign calls per second (0 = unlimited). */
  signRatePerRing: number;
  maxAttempts: number;
  timeoutMs: number;
}

/** KMS signs at most 4096 bytes as RAW; longer inputs are hashed here and signed as DIGEST. */
export const KMS_RAW_MESSAGE_LIMIT = 4096;
/** The shortest deletion window KMS allows; an orphan from a lost creation race is gone after it. */
export const ORPHAN_DELETION_DAYS = 7;
// Key states in which KMS refuses to sign: the version is treated as revoked.
const DISABLED_STATES: ReadonlySet<string> = new Set(['Disabled', 'PendingDeletion', 'PendingReplicaDeletion']);
// Errors KMS returns for a key in one of those states (e.g. GetPublicKey on a disabled key).
const KEY_STATE_ERRORS: ReadonlySet<string> = new Set(['DisabledException', 'KMSInvalidStateException']);
const THROTTLING_ERRORS: ReadonlySet<string> = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown']);
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'IncompleteSignature',
]);
const UNAVAILABLE_ERRORS: ReadonlySet<string> = new Set(['KMSInternalException', 'DependencyTimeoutException', 'KeyUnavailableException', 'ServiceUnavailable', 'InternalFailure', 'TimeoutError']);

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const errorName = (error: unknown): string | undefined => (error as SdkError | undefined)?.name;

/** Maps a failed KMS call to a typed error, after the SDK's own retries are spent. Never returns a plain Error. */
export function kmsError(error: unknown, ref: KeyRef, action: string, version?: number): GatewayError {
  if (error instanceof GatewayError) return error;
  const failure = (error ?? {}) as SdkError;
  const name = failure.name ?? 'Error';
  const status = failure.$metadata?.httpStatusCode;
  const attempts = failure.$metadata?.attempts;
  const where = `KMS ${action} for ring "${ref.ring}" (alias/${ref.key}${version === undefined ? '' : `/v${version}`})`;
  const tried = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
  if (THROTTLING_ERRORS.has(name) || status === 429) {
    return new BackendThrottledError(`${where}: throttled by KMS${tried}`, { cause: error, retryAfterSeconds: 1 });
  }
  if (name === 'LimitExceededException') {
    // KMS uses this for resource quotas (keys, aliases) as well as rates: retrying in 1 s rarely helps.
    return new BackendThrottledError(`${where}: a KMS quota was exceeded${tried}`, { cause: error, retryAfterSeconds: 30 });
  }
  if (name === 'NotFoundException') {
    return version === undefined
      ? new UnknownRingError(`${where}: not found`, { cause: error })
      : new UnknownVersionError(`${where}: the version's KMS key was not found`, { cause: error });
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || status === 403) {
    return new BackendUnavailableError(`${where}: access denied (check the IAM policy; see infra/aws)`, { cause: error, retryAfterSeconds: 5 });
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return new BackendUnavailableError(`${where}: no valid AWS credentials (${name})`, { cause: error, retryAfterSeconds: 5 });
  }
  if (KEY_STATE_ERRORS.has(name)) {
    // The key was disabled or scheduled for deletion after our last refresh; the next refresh marks
    // the version revoked and the ring stops choosing it, so a retry shortly after can succeed.
    return new BackendUnavailableError(`${where}: the KMS key is disabled or pending deletion`, { cause: error, retryAfterSeconds: 5 });
  }
  if (UNAVAILABLE_ERRORS.has(name) || failure.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new BackendUnavailableError(`${where}: KMS unavailable (${status ? `HTTP ${status} ` : ''}${name})${tried}`, { cause: error });
  }
  if (status === undefined) {
    // No HTTP response at all: DNS, connection refused, TLS, timeout.
    return new BackendUnavailableError(`${where}: KMS unreachable (${failure.code ?? name})${tried}`, { cause: error });
  }
  return new BackendResponseError(`${where}: ${name}: ${failure.message ?? 'request rejected'}`, { cause: error });
}

interface PublicKeyEntry {
  spki: Uint8Array;
  keySpec?: string;
  keyUsage?: string;
  signingAlgorithms?: readonly string[];
  createdAt: Date;
}

// KMS alias names allow [A-Za-z0-9/_-]; alias/aws/* is reserved for AWS-managed keys.
const KEY_NAME = /^[A-Za-z0-9/_-]+$/;

export class AwsKmsBackend implements SigningBackend {
  readonly kind = 'aws-kms';
  private readonly pacer: Pacer;
  /** key → version → KeyId, from the last alias listing. */
  private readonly keyIds = new Map<string, Map<number, string>>();
  /** key → KeyId that alias/<key> pointed at in the last listing, so markSigning skips no-op UpdateAlias calls. */
  private readonly ringTargets = new Map<string, string | undefined>();
  /** KeyId → public key and creation date; both immutable for a KMS key, so fetched once. */
  private readonly publicKeys = new Map<string, PublicKeyEntry>();
  /** One ListAliases pagination shared by every ring that asks while it runs (refreshAll asks for all at once). */
  private aliasListing?: Promise<AliasListEntry[]>;
  /** createVersion calls in flight, per key. */
  private readonly creating = new Map<string, Promise<KeyVersion>>();

  constructor(
    private readonly options: AwsKmsOptions,
    private readonly api: KmsApi = AwsKmsBackend.createClient(options),
    pace: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.pacer = new Pacer({ ratePerSecond: options.signRatePerRing, ...pace });
  }

  static createClient(options: AwsKmsOptions): KmsApi {
    // Credentials come from the SDK's default chain (env, shared config, SSO, web identity, ECS, IMDS).
    // 'standard' retries (backoff + retry quota), not 'adaptive': adaptive queues requests inside
    // the SDK when throttled, which is the unbounded wait our pacer exists to refuse.
    return sdkKmsApi(
      new KMSClient({
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        maxAttempts: options.maxAttempts,
        retryMode: 'standard',
        // Per attempt; without throwOnRequestTimeout the handler only logs a warning.
        requestHandler: { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, throwOnRequestTimeout: true },
      }),
    );
  }

  private async call<T>(ref: KeyRef, action: string, work: () => Promise<T>, version?: number): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw kmsError(error, ref, action, version);
    }
  }

  private ringAlias(ref: KeyRef): string {
    if (!KEY_NAME.test(ref.key) || ref.key === 'aws' || ref.key.startsWith('aws/') || ref.key.length > 240) {
      throw new InvalidRequestError(`ring "${ref.ring}": "${ref.key}" cannot name a KMS alias (use A-Z a-z 0-9 / _ -; alias/aws/* is reserved)`);
    }
    return `alias/${ref.key}`;
  }

  private versionAlias(ref: KeyRef, version: number): string {
    return `${this.ringAlias(ref)}/v${version}`;
  }

  private listAllAliases(): Promise<AliasListEntry[]> {
    if (this.aliasListing) return this.aliasListing;
    const listing = (async () => {
      const aliases: AliasListEntry[] = [];
      let marker: string | undefined;
      // ListAliases has no prefix filter: page through the account's aliases (100 per page).
      do {
        const page = await this.api.listAliases({ Limit: 100, ...(marker ? { Marker: marker } : {}) });
        aliases.push(...(page.Aliases ?? []));
        marker = page.Truncated ? page.NextMarker : undefined;
      } while (marker);
      return aliases;
    })();
    this.aliasListing = listing;
    const clear = (): void => {
      if (this.aliasListing === listing) this.aliasListing = undefined;
    };
    listing.then(clear, clear);
    return listing;
  }

  /** After a write, later readers must not join a listing that started before it. */
  private forgetListing(): void {
    this.aliasListing = undefined;
  }

  /** version → KeyId for this ring, from alias/<key>/v<N>, ascending. Updates the sign cache. */
  private async versionKeyIds(ref: KeyRef): Promise<Map<number, string>> {
    const ringAlias = this.ringAlias(ref);
    const prefix = `${ringAlias}/v`;
    const aliases = await this.call(ref, 'ListAliases', () => this.listAllAliases());
    const found: Array<[number, string]> = [];
    this.ringTargets.set(ref.key, aliases.find((alias) => alias.AliasName === ringAlias)?.TargetKeyId);
    for (const alias of aliases) {
      const name = alias.AliasName;
      if (!name?.startsWith(prefix) || !alias.TargetKeyId) continue;
      const suffix = name.slice(prefix.length);
      if (!/^[1-9][0-9]{0,8}$/.test(suffix)) continue; // not ours: alias/<key>/vfoo, alias/<key>/v01
      found.push([Number(suffix), alias.TargetKeyId]);
    }
    const ids = new Map(found.sort(([a], [b]) => a - b));
    this.keyIds.set(ref.key, ids);
    return ids;
  }

  private async keyIdOf(ref: KeyRef, version: number): Promise<string> {
    const cached = this.keyIds.get(ref.key)?.get(version);
    if (cached) return cached;
    // Not seen yet: another replica may have created it since our last listing.
    const ids = await this.versionKeyIds(ref);
    if (ids.size === 0) throw new UnknownRingError(`KMS ring "${ref.ring}": no aliases ${this.ringAlias(ref)}/v<N> exist`);
    const keyId = ids.get(version);
    if (!keyId) throw new UnknownVersionError(`KMS ring "${ref.ring}" has no version ${version} (${this.versionAlias(ref, version)} does not exist)`);
    return keyId;
  }

  private checkKey(ref: KeyRef, version: number, entry: PublicKeyEntry): void {
    const spec = ALGORITHMS[ref.alg];
    const where = `KMS key for ${this.versionAlias(ref, version)}`;
    if (!entry.keySpec || !spec.kmsKeySpecs.includes(entry.keySpec)) {
      throw new UnsupportedKeyError(`${where} is ${entry.keySpec ?? 'of unknown spec'}; ring "${ref.ring}" signs ${ref.alg}, which needs ${spec.kmsKeySpecs.join(' or ')}`);
    }
    if (entry.keyUsage && entry.keyUsage !== 'SIGN_VERIFY') throw new UnsupportedKeyError(`${where} has key usage ${entry.keyUsage}, not SIGN_VERIFY`);
    if (entry.signingAlgorithms && !entry.signingAlgorithms.includes(spec.kmsSigningAlgorithm)) {
      throw new UnsupportedKeyError(`${where} does not offer ${spec.kmsSigningAlgorithm}`);
    }
  }

  private async fetchPublicKey(keyId: string, createdAt: Date): Promise<PublicKeyEntry> {
    const cached = this.publicKeys.get(keyId);
    if (cached) return cached;
    const response = await this.api.getPublicKey({ KeyId: keyId });
    if (!response.PublicKey?.length) throw new BackendResponseError(`KMS GetPublicKey for key ${keyId} returned no public key`);
    const entry: PublicKeyEntry = {
      spki: new Uint8Array(response.PublicKey),
      // KeySpec replaced CustomerMasterKeySpec; older responses (and moto) carry only the old name.
      keySpec: response.KeySpec ?? response.CustomerMasterKeySpec,
      keyUsage: response.KeyUsage,
      signingAlgorithms: response.SigningAlgorithms,
      createdAt,
    };
    this.publicKeys.set(keyId, entry);
    return entry;
  }

  /** One version's KeyVersion, or undefined for a disabled key whose public key KMS will no longer give out. */
  private async describeVersion(ref: KeyRef, version: number, keyId: string): Promise<KeyVersion | undefined> {
    // DescribeKey every refresh: KeyState is the one thing about a version that changes.
    const described = await this.call(ref, 'DescribeKey', () => this.api.describeKey({ KeyId: keyId }), version);
    const metadata = described.KeyMetadata;
    if (!metadata?.CreationDate || !metadata.KeyState) throw new BackendResponseError(`KMS DescribeKey for ${this.versionAlias(ref, version)} returned no key metadata`);
    const disabled = DISABLED_STATES.has(metadata.KeyState);
    let entry: PublicKeyEntry;
    try {
      entry = await this.fetchPublicKey(keyId, metadata.CreationDate);
    } catch (error) {
      // Real KMS refuses GetPublicKey on disabled keys. Such a version is revoked anyway and a
      // replica that never saw its public key has nothing to publish for it.
      if (disabled && KEY_STATE_ERRORS.has(errorName(error) ?? '')) return undefined;
      throw kmsError(error, ref, 'GetPublicKey', version);
    }
    this.checkKey(ref, version, entry);
    return { version, createdAt: entry.createdAt, spki: entry.spki, ...(disabled ? { disabled: true } : {}) };
  }

  async listVersions(ref: KeyRef): Promise<KeyVersion[]> {
    const ids = await this.versionKeyIds(ref);
    if (ids.size === 0) {
      throw new UnknownRingError(`KMS ring "${ref.ring}": no aliases ${this.ringAlias(ref)}/v<N> exist (create the first version with infra/aws/terraform, or set create_if_missing)`);
    }
    const versions = await Promise.all([...ids].map(([version, keyId]) => this.describeVersion(ref, version, keyId)));
    return versions.filter((v): v is KeyVersion => v !== undefined);
  }

  async sign(ref: KeyRef, version: number, signingInput: Uint8Array, check?: SignatureCheck): Promise<Uint8Array> {
    return checkSampled(check, ref, version, signingInput, await this.signOnce(ref, version, signingInput));
  }

  private async signOnce(ref: KeyRef, version: number, signingInput: Uint8Array): Promise<Uint8Array> {
    const spec = ALGORITHMS[ref.alg];
    let message = signingInput;
    let messageType: 'RAW' | 'DIGEST' = 'RAW';
    if (signingInput.byteLength > KMS_RAW_MESSAGE_LIMIT) {
      // KMS's Ed25519 digest mode is Ed25519ph, a different algorithm from JOSE's EdDSA.
      if (spec.kty === 'OKP') {
        throw new InvalidRequestError(`ring "${ref.ring}": EdDSA on KMS can sign at most ${KMS_RAW_MESSAGE_LIMIT} bytes of header and claims; this token is ${signingInput.byteLength}`);
      }
      message = createHash(NODE_HASH[spec.hash]!).update(signingInput).digest();
      messageType = 'DIGEST';
    }
    await this.pacer.acquire(ref.ring);
    const keyId = await this.keyIdOf(ref, version);
    const response = await this.call(
      ref,
      'Sign',
      () =>
        this.api.sign({
          KeyId: keyId,
          Message: message,
          MessageType: messageType,
          SigningAlgorithm: spec.kmsSigningAlgorithm as SigningAlgorithmSpec,
        }),
      version,
    );
    if (!response.Signature?.length) throw new BackendResponseError(`KMS Sign for ${this.versionAlias(ref, version)} returned no signature`);
    if (spec.kty !== 'EC') return new Uint8Array(response.Signature);
    try {
      return derToJoseSignature(response.Signature, spec.ecCoordinateBytes!);
    } catch (error) {
      // asn1js throws plain RangeErrors on some malformed input; keep this backend's errors typed.
      if (error instanceof GatewayError) throw error;
      throw new MalformedDerError(`KMS Sign for ${this.versionAlias(ref, version)} returned a signature that is not DER`, { cause: error });
    }
  }

  async createVersion(ref: KeyRef): Promise<KeyVersion> {
    // In-process single flight per key: concurrent rotations here yield one version, as across replicas.
    const running = this.creating.get(ref.key);
    if (running) return running;
    const created = (async () => {
      this.forgetListing(); // N must come from a listing that started after this call
      const ids = await this.versionKeyIds(ref);
      if (ids.size === 0) {
        throw new UnknownRingError(`KMS ring "${ref.ring}": no aliases ${this.ringAlias(ref)}/v<N> exist, so there is no ring to add a version to`);
      }
      return this.createNext(ref, ids);
    })().finally(() => this.creating.delete(ref.key));
    this.creating.set(ref.key, created);
    return created;
  }

  /** Creates v1 when the ring has no versions (create_if_missing). Replicas racing here meet in CreateAlias. */
  async ensureKey(ref: KeyRef): Promise<void> {
    const ids = await this.versionKeyIds(ref);
    if (ids.size === 0) await this.createNext(ref, ids);
  }

  /** CreateKey, then CreateAlias alias/<key>/v<N+1>; if another replica took N+1 first, its version. */
  private async createNext(ref: KeyRef, ids: ReadonlyMap<number, string>): Promise<KeyVersion> {
    const version = Math.max(0, ...ids.keys()) + 1;
    const aliasName = this.versionAlias(ref, version);
    const created = await this.call(ref, 'CreateKey', () =>
      this.api.createKey({
        KeySpec: ALGORITHMS[ref.alg].kmsKeySpecs[0] as KeySpec,
        KeyUsage: 'SIGN_VERIFY',
        Description: `signet ring key ${ref.key}, version ${version} (${ref.alg})`,
        // The rotator's IAM policy allows CreateKey only with these tags; they also name an orphan.
        Tags: [
          { TagKey: 'signet:ring', TagValue: ref.key },
          { TagKey: 'signet:version', TagValue: String(version) },
        ],
      }),
    );
    const keyId = created.KeyMetadata?.KeyId;
    if (!keyId) throw new BackendResponseError(`KMS CreateKey for ${aliasName} returned no KeyId`);
    try {
      await this.api.createAlias({ AliasName: aliasName, TargetKeyId: keyId });
    } catch (error) {
      // Whatever went wrong, the new key has no alias and no replica will ever use it.
      await this.discardOrphan(keyId);
      if (errorName(error) !== 'AlreadyExistsException') throw kmsError(error, ref, 'CreateAlias', version);
      // Another replica created version N first: adopt it, so one rotation yields one version.
      this.forgetListing();
      const winner = (await this.listVersions(ref)).find((v) => v.version === version);
      if (!winner) throw new BackendResponseError(`KMS ${aliasName} already exists but is not usable`, { cause: error });
      return winner;
    }
    this.forgetListing();
    this.keyIds.get(ref.key)?.set(version, keyId);
    const createdAt = created.KeyMetadata?.CreationDate ?? new Date();
    const entry = await this.call(ref, 'GetPublicKey', () => this.fetchPublicKey(keyId, createdAt), version);
    this.checkKey(ref, version, entry);
    return { version, createdAt: entry.createdAt, spki: entry.spki };
  }

  private async discardOrphan(keyId: string): Promise<void> {
    try {
      await this.api.scheduleKeyDeletion({ KeyId: keyId, PendingWindowInDays: ORPHAN_DELETION_DAYS });
    } catch {
      // Best effort: the orphan's signet:* tags and description let an operator find it; failing
      // the rotation here would hide the error that actually matters.
    }
  }

  /** KMS itself refuses a disabled key, and every replica sees the disabled state when it lists versions. */
  async revokeVersion(ref: KeyRef, record: RevocationRecord): Promise<void> {
    const keyId = await this.keyIdOf(ref, record.version);
    await this.call(ref, 'DisableKey', () => this.api.disableKey({ KeyId: keyId }), record.version);
  }

  /**
   * Points alias/<key> at this version's key, for operators and tools that use the ring alias.
   * Every replica calls this when the signing version changes; UpdateAlias is quota-limited
   * (5/s per account), so a call is made only if the last listing shows the alias elsewhere.
   */
  async markSigning(ref: KeyRef, version: number): Promise<void> {
    const keyId = await this.keyIdOf(ref, version);
    if (this.ringTargets.get(ref.key) === keyId) return;
    const aliasName = this.ringAlias(ref);
    const update = (): Promise<unknown> => this.api.updateAlias({ AliasName: aliasName, TargetKeyId: keyId });
    await this.call(
      ref,
      'UpdateAlias',
      async () => {
        try {
          await update();
        } catch (error) {
          if (errorName(error) !== 'NotFoundException') throw error;
          // No ring alias yet (e.g. a ring created by ensureKey). Another replica may create it concurrently.
          try {
            await this.api.createAlias({ AliasName: aliasName, TargetKeyId: keyId });
          } catch (createError) {
            if (errorName(createError) !== 'AlreadyExistsException') throw createError;
            await update();
          }
        }
      },
      version,
    );
    this.ringTargets.set(ref.key, keyId);
    this.forgetListing();
  }

  async health(): Promise<BackendHealth> {
    const where = `AWS KMS in ${this.options.region}${this.options.endpoint ? ` at ${this.options.endpoint}` : ''}`;
    try {
      await this.api.listAliases({ Limit: 1 });
      return { ok: true, detail: where };
    } catch (error) {
      return { ok: false, detail: kmsError(error, { ring: '*', key: '*', alg: 'ES256' }, 'health check').message };
    }
  }

  async close(): Promise<void> {
    this.api.destroy();
  }
}
