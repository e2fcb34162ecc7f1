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
// Every call runs under the backend's circuit breaker; a sign carries the caller's deadline into
// the SDK as an AbortSignal, so one deadline bounds every attempt and the back-off between them.
//
// See docs/aws-kms.md for configuration, IAM policies, and where moto differs from AWS.
import { createHash } from 'node:crypto';
import type { AliasListEntry, KeySpec, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { BackendKeyMissingError, BackendResponseError, BackendVersionMissingError, GatewayError, InvalidRequestError, MalformedDerError, UnsupportedKeyError } from '../../errors.js';
import { ALGORITHMS, NODE_HASH } from '../../jose/algorithms.js';
import { derToJoseSignature } from '../../jose/ecdsa.js';
import { BackendGuard, DEFAULT_GUARD, type GuardOptions } from '../../resilience/backend-guard.js';
import { SPAN, signAttributes, traced, tracing } from '../../observability/tracing.js';
import { checkSampled, type BackendHealth, type KeyRef, type KeyVersion, type RevocationRecord, type SignatureCheck, type SignCall, type SigningBackend } from '../backend.js';
import { Pacer } from '../pace.js';
import { createKmsApi, type KmsApi } from './api.js';
import { DISABLED_STATES, KEY_STATE_ERRORS, errorName, kmsError } from './errors.js';
import { ringAlias, ringVersions, versionAlias } from './naming.js';

export interface AwsKmsOptions {
  region: string;
  endpoint?: string;
  /** Client-side pace limit per ring, in Sign calls per second (0 = unlimited). */
  signRatePerRing: number;
  maxAttempts: number;
  /** Per SDK attempt; a sign is bounded as a whole by the caller's deadline. */
  timeoutMs: number;
  /** Circuit breaker settings; `name` labels the backend's metrics. */
  circuit?: GuardOptions;
  name?: string;
}

/** KMS signs at most 4096 bytes as RAW; longer inputs are hashed here and signed as DIGEST. */
export const KMS_RAW_MESSAGE_LIMIT = 4096;
/** The shortest deletion window KMS allows; an orphan from a lost creation race is gone after it. */
export const ORPHAN_DELETION_DAYS = 7;
interface PublicKeyEntry {
  spki: Uint8Array;
  keySpec?: string;
  keyUsage?: string;
  signingAlgorithms?: readonly string[];
  createdAt: Date;
}

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

  readonly guard: BackendGuard;

  constructor(
    private readonly options: AwsKmsOptions,
    private readonly api: KmsApi = createKmsApi(options),
    pace: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.pacer = new Pacer({ ratePerSecond: options.signRatePerRing, ...pace });
    this.guard = new BackendGuard(options.name ?? this.kind, options.circuit ?? DEFAULT_GUARD);
    // After a cool-down the circuit asks KMS itself whether it answers again.
    this.guard.setProbe(() => this.api.listAliases({ Limit: 1 }));
  }

  /** One KMS call under the circuit breaker, mapped to a typed error. */
  private call<T>(ref: KeyRef, operation: string, action: string, work: () => Promise<T>, version?: number): Promise<T> {
    return this.guard.call(operation, async () => {
      try {
        return await work();
      } catch (error) {
        throw kmsError(error, ref, action, version);
      }
    });
  }

  private listAllAliases(signal?: AbortSignal): Promise<AliasListEntry[]> {
    if (this.aliasListing) return this.aliasListing;
    const listing = (async () => {
      const aliases: AliasListEntry[] = [];
      let marker: string | undefined;
      // ListAliases has no prefix filter: page through the account's aliases (100 per page).
      do {
        const page = await this.api.listAliases({ Limit: 100, ...(marker ? { Marker: marker } : {}) }, signal);
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
  private async versionKeyIds(ref: KeyRef, operation = 'list_versions', signal?: AbortSignal): Promise<Map<number, string>> {
    ringAlias(ref); // a key that cannot name an alias fails here, before any call
    const aliases = await this.call(ref, operation, 'ListAliases', () => this.listAllAliases(signal));
    const { ids, signingTarget } = ringVersions(ref, aliases);
    this.ringTargets.set(ref.key, signingTarget);
    this.keyIds.set(ref.key, ids);
    return ids;
  }

  private async keyIdOf(ref: KeyRef, version: number, operation: string, signal?: AbortSignal): Promise<string> {
    const cached = this.keyIds.get(ref.key)?.get(version);
    if (cached) return cached;
    // Not seen yet: another replica may have created it since our last listing.
    const ids = await this.versionKeyIds(ref, operation, signal);
    if (ids.size === 0) throw new BackendKeyMissingError(`KMS ring "${ref.ring}": no aliases ${ringAlias(ref)}/v<N> exist (deleted, or KMS lost them)`);
    const keyId = ids.get(version);
    if (!keyId) throw new BackendVersionMissingError(`KMS ring "${ref.ring}" has no version ${version} (${versionAlias(ref, version)} does not exist)`);
    return keyId;
  }

  private checkKey(ref: KeyRef, version: number, entry: PublicKeyEntry): void {
    const spec = ALGORITHMS[ref.alg];
    const where = `KMS key for ${versionAlias(ref, version)}`;
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
    const described = await this.call(ref, 'list_versions', 'DescribeKey', () => this.api.describeKey({ KeyId: keyId }), version);
    const metadata = described.KeyMetadata;
    if (!metadata?.CreationDate || !metadata.KeyState) throw new BackendResponseError(`KMS DescribeKey for ${versionAlias(ref, version)} returned no key metadata`);
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

  listVersions(ref: KeyRef): Promise<KeyVersion[]> {
    return this.guard.forRing(ref.ring, 'list_versions', () => this.readVersions(ref));
  }

  private async readVersions(ref: KeyRef): Promise<KeyVersion[]> {
    const ids = await this.versionKeyIds(ref);
    if (ids.size === 0) {
      throw new BackendKeyMissingError(`KMS ring "${ref.ring}": no aliases ${ringAlias(ref)}/v<N> exist (create the first version with infra/aws/terraform, or set create_if_missing)`);
    }
    const versions = await Promise.all([...ids].map(([version, keyId]) => this.describeVersion(ref, version, keyId)));
    return versions.filter((v): v is KeyVersion => v !== undefined);
  }

  sign(ref: KeyRef, version: number, signingInput: Uint8Array, check?: SignatureCheck, call?: SignCall): Promise<Uint8Array> {
    const work = () => this.guard.forRing(ref.ring, 'sign', async () => checkSampled(check, ref, version, signingInput, await this.signOnce(ref, version, signingInput, call)));
    // One Sign call per signature: the span has a batch size of 1; its child is the KMS.Sign call.
    return tracing.on ? traced(SPAN.backendSign, signAttributes(this.kind, ref.ring, version, 1), work, { parent: call?.trace }) : work();
  }

  private async signOnce(ref: KeyRef, version: number, signingInput: Uint8Array, call: SignCall = {}): Promise<Uint8Array> {
    const { deadline } = call;
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
    // A turn further off than the deadline is refused now rather than waited for.
    await this.pacer.acquire(ref.ring, deadline?.remainingMs());
    if (deadline?.expired) throw deadline.error();
    const keyId = await this.keyIdOf(ref, version, 'sign');
    const response = await this.call(
      ref,
      'sign',
      'Sign',
      () =>
        this.api.sign(
          {
            KeyId: keyId,
            Message: message,
            MessageType: messageType,
            SigningAlgorithm: spec.kmsSigningAlgorithm as SigningAlgorithmSpec,
          },
          deadline?.signal,
          call.requestId,
        ),
      version,
    );
    if (!response.Signature?.length) throw new BackendResponseError(`KMS Sign for ${versionAlias(ref, version)} returned no signature`);
    if (spec.kty !== 'EC') return new Uint8Array(response.Signature);
    try {
      return derToJoseSignature(response.Signature, spec.ecCoordinateBytes!);
    } catch (error) {
      // asn1js throws plain RangeErrors on some malformed input; keep this backend's errors typed.
      if (error instanceof GatewayError) throw error;
      throw new MalformedDerError(`KMS Sign for ${versionAlias(ref, version)} returned a signature that is not DER`, { cause: error });
    }
  }

  async createVersion(ref: KeyRef): Promise<KeyVersion> {
    // In-process single flight per key: concurrent rotations here yield one version, as across replicas.
    const running = this.creating.get(ref.key);
    if (running) return running;
    const created = (async () => {
      this.forgetListing(); // N must come from a listing that started after this call
      const ids = await this.versionKeyIds(ref, 'create_version');
      if (ids.size === 0) {
        throw new BackendKeyMissingError(`KMS ring "${ref.ring}": no aliases ${ringAlias(ref)}/v<N> exist, so there is no ring to add a version to`);
      }
      return this.createNext(ref, ids);
    })().finally(() => this.creating.delete(ref.key));
    this.creating.set(ref.key, created);
    return created;
  }

  /** Creates v1 when the ring has no versions (create_if_missing). Replicas racing here meet in CreateAlias. */
  async ensureKey(ref: KeyRef): Promise<void> {
    const ids = await this.versionKeyIds(ref, 'create_version');
    if (ids.size === 0) await this.createNext(ref, ids);
  }

  /** CreateKey, then CreateAlias alias/<key>/v<N+1>; if another replica took N+1 first, its version. */
  private async createNext(ref: KeyRef, ids: ReadonlyMap<number, string>): Promise<KeyVersion> {
    const version = Math.max(0, ...ids.keys()) + 1;
    const aliasName = versionAlias(ref, version);
    const created = await this.call(ref, 'create_version', 'CreateKey', () =>
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
      const winner = (await this.readVersions(ref)).find((v) => v.version === version);
      if (!winner) throw new BackendResponseError(`KMS ${aliasName} already exists but is not usable`, { cause: error });
      return winner;
    }
    this.forgetListing();
    this.keyIds.get(ref.key)?.set(version, keyId);
    const createdAt = created.KeyMetadata?.CreationDate ?? new Date();
    const entry = await this.call(ref, 'create_version', 'GetPublicKey', () => this.fetchPublicKey(keyId, createdAt), version);
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
    const keyId = await this.keyIdOf(ref, record.version, 'revoke');
    await this.call(ref, 'revoke', 'DisableKey', () => this.api.disableKey({ KeyId: keyId }), record.version);
  }

  /**
   * Points alias/<key> at this version's key, for operators and tools that use the ring alias.
   * Every replica calls this when the signing version changes; UpdateAlias is quota-limited
   * (5/s per account), so a call is made only if the last listing shows the alias elsewhere.
   */
  async markSigning(ref: KeyRef, version: number): Promise<void> {
    const keyId = await this.keyIdOf(ref, version, 'mark_signing');
    if (this.ringTargets.get(ref.key) === keyId) return;
    const aliasName = ringAlias(ref);
    const update = (): Promise<unknown> => this.api.updateAlias({ AliasName: aliasName, TargetKeyId: keyId });
    await this.call(
      ref,
      'mark_signing',
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
    this.guard.close();
    this.api.destroy();
  }
}
