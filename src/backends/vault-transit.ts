// HashiCorp Vault / OpenBao Transit. A ring is one Transit key; its versions are Transit's
// key versions. Every sign names its version: a `rotate` makes the new version Transit's default
// at once, and signing with the default is how verifiers meet a kid they have never seen.
import { trace, type Context, type Link } from '@opentelemetry/api';
import { ALGORITHMS, type JwsAlg } from '../jose/algorithms.js';
import { ed25519RawToSpki, pemToDer } from '../jose/jwk.js';
import {
  BackendKeyMissingError,
  BackendResponseError,
  BackendThrottledError,
  BackendTimeoutError,
  BackendUnavailableError,
  BackendUnreachableError,
  BackendVersionMissingError,
  GatewayError,
  UnsupportedKeyError,
} from '../errors.js';
import type { VaultBackendConfig } from '../config-schema.js';
import { BackendGuard, DEFAULT_GUARD, type GuardOptions } from '../resilience/backend-guard.js';
import { ATTR, errorCode, failSpan, runInSpan, SPAN, signAttributes, startSpan, tracing } from '../observability/tracing.js';
import { signatureMismatch, type BackendHealth, type KeyRef, type KeyVersion, type RevocationRecord, type SignatureCheck, type SignCall, type SigningBackend } from './backend.js';
import { GroupCommit, type ItemResult } from './group-commit.js';
import { DEFAULT_REVOCATION_KV_MOUNT, forbiddenPaths, grantedPaths, revocationRecordsPath, trimMount, unguardedPaths } from '../vault/paths.js';
import { VaultHttpClient, type VaultClient } from './vault-client.js';

export type { VaultClient } from './vault-client.js';

/**
 * The backend's options: the connection fields of the config's `vault-transit` entry (one
 * definition, in config-schema.ts), with the tuning ones optional for tools and tests.
 */
export type VaultTransitOptions = Pick<VaultBackendConfig, 'address' | 'mount' | 'namespace' | 'token' | 'approle' | 'timeoutMs' | 'caFile'> &
  Partial<Pick<VaultBackendConfig, 'batchMaxSize' | 'batchMaxInFlight' | 'revocationKvMount'>> & {
    /** Circuit breaker settings; `name` labels the backend's metrics. */
    circuit?: GuardOptions;
    name?: string;
  };

interface SignItem {
  ref: KeyRef;
  version: number;
  input: string;
  bytes: Uint8Array;
  check?: SignatureCheck;
  /** The caller's request id and trace context (SignCall). */
  requestId?: string;
  trace?: Context;
}

interface TransitKeyData {
  type: string;
  exportable?: boolean;
  allow_plaintext_backup?: boolean;
  deletion_allowed?: boolean;
  auto_rotate_period?: number;
  keys: Record<string, { public_key?: string; creation_time?: string }>;
  latest_version: number;
}

interface TransitSignData {
  signature?: string;
  batch_results?: Array<{ signature?: string; error?: string }>;
}

interface VaultApiError {
  response?: { statusCode?: number; body?: { errors?: string[] } };
  code?: string;
  message?: string;
}

const POLICY_ADVICE = 'Give Signet a token with only the policies printed by `signet vault-policy --role signer` (and `--role rotator` if it rotates)';
const ROOT_TOKEN_FINDING = `Signet's Vault token is a root token: it could do anything to the keys, exportable=true included. ${POLICY_ADVICE}`;

/** Where a Transit call for a ring went wrong, for messages. */
const keyCall = (ref: KeyRef, action: string): string => `Transit ${action} for ring "${ref.ring}" (key "${ref.key}")`;

// undici's and Node's names for "no answer in time" and "cancelled because nobody waits".
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_ABORTED', 'ABORT_ERR', 'ETIMEDOUT']);
const TIMEOUT_NAMES: ReadonlySet<string> = new Set(['AbortError', 'TimeoutError', 'HeadersTimeoutError', 'BodyTimeoutError', 'ConnectTimeoutError', 'DeadlineExceededError']);

/** Maps a failed Vault call to a typed error; `where` says which call, e.g. keyCall(ref, 'sign'). */
export function vaultError(error: unknown, where: string): GatewayError {
  if (error instanceof GatewayError && !TIMEOUT_NAMES.has(error.name)) return error;
  const failure = error as VaultApiError & { name?: string };
  const status = failure.response?.statusCode;
  const detail = failure.response?.body?.errors?.join('; ') ?? failure.message ?? String(error);
  if (status === undefined && (TIMEOUT_CODES.has(failure.code ?? '') || TIMEOUT_NAMES.has(failure.name ?? ''))) {
    return new BackendTimeoutError(`${where}: no answer in time`, { cause: error });
  }
  if (status === 404 || /key not found|no existing key/i.test(detail)) {
    return new BackendKeyMissingError(`${where}: the key does not exist in Vault (deleted, or Vault restored without it)`, { cause: error });
  }
  // Transit answers an out-of-range key_version with a 400 or, in some releases, a 500.
  if (/requested version|key version|version .* (not found|does not exist)|min_.*version/i.test(detail)) return new BackendVersionMissingError(`${where}: ${detail}`, { cause: error });
  if (status === 429) return new BackendThrottledError(`${where}: throttled`, { cause: error, retryAfterSeconds: 1 });
  if (status === 403) return new BackendUnavailableError(`${where}: permission denied (check the Vault token and policy)`, { cause: error, retryAfterSeconds: 5 });
  if (status !== undefined && status < 500) return new BackendResponseError(`${where}: ${detail}`, { cause: error });
  return new BackendUnreachableError(`${where}: ${status ? `HTTP ${status}` : (failure.code ?? 'unreachable')}`, { cause: error });
}

/** Metric label of each Transit call (signet_backend_request_seconds{operation}). */
const OPERATIONS: Readonly<Record<string, string>> = {
  sign: 'sign',
  'read key': 'list_versions',
  rotate: 'create_version',
  'create key': 'create_version',
  'list revocations': 'revocations',
  'read revocation': 'revocations',
  'record revocation': 'revoke',
};

function signParameters(alg: JwsAlg, version: number, input: string): Record<string, unknown> {
  const spec = ALGORITHMS[alg];
  const base = { input, key_version: version, marshaling_algorithm: 'jws' };
  if (spec.kty === 'OKP') return base; // Ed25519 signs the message itself; a hash would make it Ed25519ph.
  // Transit's default hash is sha2-256 whatever the curve; ES384/ES512 must ask for theirs.
  const withHash = { ...base, hash_algorithm: spec.hash };
  if (spec.rsaPadding === 'pss') return { ...withHash, signature_algorithm: 'pss', salt_length: 'hash' }; // RFC 7518 §3.5
  if (spec.rsaPadding === 'pkcs1v15') return { ...withHash, signature_algorithm: 'pkcs1v15' };
  return withHash;
}

export class VaultTransitBackend implements SigningBackend {
  readonly kind = 'vault-transit';
  private readonly mount: string;
  private login?: Promise<void>;
  readonly batcher: GroupCommit<SignItem, Uint8Array>;
  readonly guard: BackendGuard;
  /** key → version → revocation record read from KV (records are write-once, so cached for good). */
  private readonly revocationRecords = new Map<string, Map<number, RevocationRecord>>();

  constructor(
    private readonly options: VaultTransitOptions,
    private readonly client: VaultClient = VaultTransitBackend.createClient(options),
  ) {
    this.mount = options.mount.replace(/^\/+|\/+$/g, '');
    this.batcher = new GroupCommit((options.batchMaxSize ?? 64), (_lane, items, signal) => this.signBatch(items, signal), options.batchMaxInFlight ?? 2);
    this.guard = new BackendGuard(options.name ?? this.kind, options.circuit ?? DEFAULT_GUARD);
    // After a cool-down the circuit asks Vault itself whether it answers again.
    this.guard.setProbe(() => this.client.read('sys/health'));
  }

  static createClient(options: VaultTransitOptions): VaultClient {
    return new VaultHttpClient(options);
  }

  /** AppRole: log in once, renew the token in the background, log in again when renewal stops. */
  private authenticate(): Promise<void> {
    const approle = this.options.approle;
    if (!approle) return Promise.resolve();
    this.login ??= (async () => {
      const path = `auth/${approle.mount}/login`;
      const body = { role_id: approle.roleId, secret_id: approle.secretId };
      const response = await (this.client.login ? this.client.login(path, body) : this.client.write(path, body));
      if (!response?.auth?.client_token) throw new BackendUnavailableError('AppRole login returned no token');
      this.client.token = response.auth.client_token;
      this.startRenewal(response.auth.lease_duration);
    })().catch((error: unknown) => {
      this.login = undefined;
      throw vaultError(error, `Vault AppRole login at auth/${approle.mount}`);
    });
    return this.login;
  }

  private startRenewal(leaseSeconds: number): void {
    // When the token can no longer be renewed, the next call logs in again.
    this.client.startRenewal?.(leaseSeconds, () => {
      this.login = undefined;
    });
  }

  /** One Transit call under the circuit breaker, logged in first, mapped to a typed error. */
  private call<T>(ref: KeyRef, action: string, work: () => Promise<T>): Promise<T> {
    return this.guard.call(OPERATIONS[action] ?? action.replace(/ /g, '_'), async () => {
      try {
        await this.authenticate();
        return await work();
      } catch (error) {
        // An AppRole token that expired between renewals: log in again once, then retry.
        if (this.options.approle && (error as VaultApiError).response?.statusCode === 403) {
          this.login = undefined;
          try {
            await this.authenticate();
            return await work();
          } catch (retryError) {
            throw vaultError(retryError, keyCall(ref, action));
          }
        }
        throw vaultError(error, keyCall(ref, action));
      }
    });
  }

  private keyPath(ref: KeyRef, suffix = ''): string {
    return `${this.mount}/keys/${encodeURIComponent(ref.key)}${suffix}`;
  }

  private async readKey(ref: KeyRef): Promise<TransitKeyData> {
    const response = await this.call(ref, 'read key', () => this.client.read(this.keyPath(ref)));
    const data = response.data as TransitKeyData | undefined;
    if (!data?.keys || typeof data.type !== 'string') throw new BackendResponseError(`Transit returned no key data for "${ref.key}"`);
    if (!ALGORITHMS[ref.alg].vaultKeyTypes?.includes(data.type)) {
      throw new UnsupportedKeyError(`Transit key "${ref.key}" is ${data.type}; ring "${ref.ring}" signs ${ref.alg}, which needs ${ALGORITHMS[ref.alg].vaultKeyTypes?.join(' or ') ?? 'a key type Transit does not offer'}`);
    }
    return data;
  }

  listVersions(ref: KeyRef): Promise<KeyVersion[]> {
    return this.guard.forRing(ref.ring, 'list_versions', () => this.readVersions(ref));
  }

  private async readVersions(ref: KeyRef): Promise<KeyVersion[]> {
    const data = await this.readKey(ref);
    return Object.entries(data.keys)
      .map(([version, entry]) => {
        if (!entry.public_key || !entry.creation_time) {
          throw new BackendResponseError(`Transit key "${ref.key}" version ${version} has no public key`);
        }
        const spki = data.type === 'ed25519' ? ed25519RawToSpki(Buffer.from(entry.public_key, 'base64')) : pemToDer(entry.public_key);
        return { version: Number(version), createdAt: new Date(entry.creation_time), spki };
      })
      .sort((a, b) => a.version - b.version);
  }

  async createVersion(ref: KeyRef): Promise<KeyVersion> {
    await this.call(ref, 'rotate', () => this.client.write(this.keyPath(ref, '/rotate'), {}));
    const versions = await this.readVersions(ref);
    return versions.at(-1)!;
  }

  async ensureKey(ref: KeyRef): Promise<void> {
    try {
      await this.readKey(ref);
    } catch (error) {
      if (!(error instanceof BackendKeyMissingError)) throw error;
      const type = ALGORITHMS[ref.alg].vaultKeyTypes?.[0];
      if (!type) throw new UnsupportedKeyError(`Transit cannot sign ${ref.alg}`);
      await this.call(ref, 'create key', () => this.client.write(this.keyPath(ref), { type }));
    }
  }

  /** Concurrent signs with the same key version share one Transit request (group commit). */
  sign(ref: KeyRef, version: number, signingInput: Uint8Array, check?: SignatureCheck, call?: SignCall): Promise<Uint8Array> {
    const item: SignItem = { ref, version, input: Buffer.from(signingInput).toString('base64'), bytes: signingInput, check, requestId: call?.requestId, trace: call?.trace };
    return this.guard.forRing(ref.ring, 'sign', () => this.batcher.submit(`${ref.key}\u0000${version}\u0000${ref.alg}`, item, call?.deadline));
  }

  /** One Transit call for items that share key, version and alg: plain for one, batch_input for more. */
  signBatch(items: readonly SignItem[], signal?: AbortSignal): Promise<ItemResult<Uint8Array>[]> {
    return tracing.on ? this.signBatchTraced(items, signal) : this.signChecked(items, signal);
  }

  /**
   * One span per batch, as the OpenTelemetry spec recommends for an operation started by several
   * callers: it links to every caller's token issue span (a span has one parent; links say "this
   * was done for these"), and its parent is the first caller's, so a lone sign reads as one tree
   * and the batch is sampled with a caller that was. The Vault HTTP span is its child.
   */
  private async signBatchTraced(items: readonly SignItem[], signal?: AbortSignal): Promise<ItemResult<Uint8Array>[]> {
    const parent = items.find((item) => item.trace !== undefined)?.trace;
    const links: Link[] = [];
    for (const item of items) {
      const caller = item.trace ? trace.getSpanContext(item.trace) : undefined;
      if (caller) links.push({ context: caller });
    }
    if (!parent && !trace.getActiveSpan()) return this.signChecked(items, signal); // in nobody's trace (a webhook's signature)
    const { ref, version } = items[0]!;
    const span = startSpan(SPAN.backendSign, signAttributes(this.kind, ref.ring, version, items.length), parent, links);
    try {
      const results = await runInSpan(span, parent, () => this.signChecked(items, signal));
      const failed = results.filter((result) => !result.ok);
      if (failed.length > 0) span.setAttribute(ATTR.batchFailed, failed.length);
      if (failed.length === results.length) failSpan(span, errorCode((failed[0] as { error: unknown }).error));
      return results;
    } catch (error) {
      failSpan(span, errorCode(error));
      throw error;
    } finally {
      span.end();
    }
  }

  private async signChecked(items: readonly SignItem[], signal?: AbortSignal): Promise<ItemResult<Uint8Array>[]> {
    const results = await this.sendBatch(items, signal);
    // One signature of every batch must verify against the key the ring published for this
    // version, or no signature of it leaves: a key recreated or restored under the same name would
    // otherwise sign tokens no verifier accepts. One request signs with one key version, so one
    // check covers the whole batch. A lone sign is checked as the ring's budget says (SignatureCheck).
    const { check, ref, version } = items[0]!;
    const first = results.findIndex((result) => result.ok);
    const checked = first >= 0 && check !== undefined && (items.length > 1 || check.sample());
    if (checked && !check.verify(items[first]!.bytes, (results[first] as { value: Uint8Array }).value)) {
      const error = signatureMismatch(ref, version);
      return items.map(() => ({ ok: false, error }));
    }
    return results;
  }

  private async sendBatch(items: readonly SignItem[], signal?: AbortSignal): Promise<ItemResult<Uint8Array>[]> {
    const { ref, version } = items[0]!;
    const path = `${this.mount}/sign/${encodeURIComponent(ref.key)}`;
    // Every caller's request id, comma-separated (an HTTP list): Vault's audit entry names them all.
    const requestId = requestIdsOf(items);
    const write = (data: unknown) => (this.client.post ? this.client.post(path, data, { signal, requestId }) : this.client.write(path, data));
    if (items.length === 1) {
      try {
        const response = await this.call(ref, 'sign', () => write(signParameters(ref.alg, version, items[0]!.input)));
        return [{ ok: true, value: parseTransitSignature((response?.data as TransitSignData | undefined)?.signature, version, ref) }];
      } catch (error) {
        return [{ ok: false, error }];
      }
    }
    const { input: _unused, ...shared } = signParameters(ref.alg, version, '');
    const response = await this.call(ref, 'sign', () => write({ ...shared, batch_input: items.map((item) => ({ input: item.input })) }));
    const results = (response?.data as TransitSignData | undefined)?.batch_results;
    if (!Array.isArray(results) || results.length !== items.length) {
      throw new BackendResponseError(`Transit returned ${Array.isArray(results) ? results.length : 'no'} batch results for ${items.length} inputs`);
    }
    // Transit answers a batch with HTTP 200 and an error per failed item: each goes to its own caller.
    return results.map((result) => {
      if (result.error) return { ok: false, error: vaultError({ response: { statusCode: 400, body: { errors: [result.error] } } }, keyCall(ref, 'sign')) };
      try {
        return { ok: true, value: parseTransitSignature(result.signature, version, ref) };
      } catch (error) {
        return { ok: false, error };
      }
    });
  }

  /** `<kv>/{data|metadata}/signet/revocations/<transit mount>/<key>[/<version>]`: write-once records beside the key. */
  private revocationPath(kind: 'data' | 'metadata', ref: KeyRef, version?: number): string {
    const base = `${this.options.revocationKvMount}/${kind}/${revocationRecordsPath({ mount: this.mount, key: ref.key, kvMount: this.options.revocationKvMount! })}`;
    return version === undefined ? base : `${base}/${version}`;
  }

  /** Revocation records kept in KV: each version's record is written once and never changed. */
  async revocations(ref: KeyRef): Promise<RevocationRecord[]> {
    if (!this.options.revocationKvMount) return [];
    let listed: { data?: unknown } | undefined;
    try {
      listed = await this.call(ref, 'list revocations', () => (this.client.list ? this.client.list(this.revocationPath('metadata', ref)) : this.client.read(`${this.revocationPath('metadata', ref)}?list=true`)));
    } catch (error) {
      if (error instanceof BackendKeyMissingError) return []; // no records yet: KV answers 404
      throw error;
    }
    const versions = ((listed?.data as { keys?: string[] } | undefined)?.keys ?? []).map(Number).filter((v) => Number.isSafeInteger(v) && v > 0);
    let known = this.revocationRecords.get(ref.key);
    if (!known) this.revocationRecords.set(ref.key, (known = new Map()));
    for (const version of versions) {
      if (known.has(version)) continue;
      const response = await this.call(ref, 'read revocation', () => this.client.read(this.revocationPath('data', ref, version)));
      const data = (response.data as { data?: Partial<RevocationRecord> } | undefined)?.data;
      known.set(version, { version, reason: String(data?.reason ?? 'revoked'), at: Number(data?.at ?? 0), ...(data?.by ? { by: String(data.by) } : {}) });
    }
    return [...known.values()];
  }

  /** Writes the version's revocation record once; an existing record is left as it is. */
  async revokeVersion(ref: KeyRef, record: RevocationRecord): Promise<void> {
    if (!this.options.revocationKvMount) return;
    const path = this.revocationPath('data', ref, record.version);
    const exists = async (): Promise<boolean> => {
      try {
        await this.call(ref, 'read revocation', () => this.client.read(path));
        return true;
      } catch (error) {
        if (error instanceof BackendKeyMissingError) return false;
        throw error;
      }
    };
    if (await exists()) return;
    try {
      await this.call(ref, 'record revocation', () => this.client.write(path, { data: { reason: record.reason, at: record.at, ...(record.by ? { by: record.by } : {}) } }));
    } catch (error) {
      // The signer policy allows create, not update: another replica may have written it first.
      if (await exists()) return;
      throw error;
    }
  }

  async auditKey(ref: KeyRef): Promise<string[]> {
    const data = await this.readKey(ref);
    const findings: string[] = [];
    if (data.exportable) findings.push(`Transit key "${ref.key}" is exportable: its private keys can be read out of Vault, and this can never be turned off. Rotate to a new non-exportable key`);
    if (data.allow_plaintext_backup) findings.push(`Transit key "${ref.key}" allows plaintext backup: a backup carries the private keys`);
    if (data.deletion_allowed) findings.push(`Transit key "${ref.key}" can be deleted: a deletion would break every token it signed`);
    return [...findings, ...(await this.auditToken(ref))];
  }

  /**
   * What Signet's own token could do to the key and its revocation records, asked of Vault itself
   * (sys/capabilities-self) on the exact paths the generated policies deny. A check that cannot
   * run is a finding too: silence must mean "checked and clean".
   */
  private async auditToken(ref: KeyRef): Promise<string[]> {
    const scope = { mount: this.mount, key: ref.key, kvMount: trimMount(this.options.revocationKvMount ?? DEFAULT_REVOCATION_KV_MOUNT) };
    const findings: string[] = [];
    try {
      const self = (await this.client.read('auth/token/lookup-self')) as { data?: { policies?: string[] } };
      if (self.data?.policies?.includes('root')) return [ROOT_TOKEN_FINDING];
    } catch (error) {
      findings.push(`could not look up Signet's Vault token (${vaultError(error, 'auth/token/lookup-self').message}), so a root token would go unnoticed. ${POLICY_ADVICE}`);
    }
    const probes = [
      ...forbiddenPaths(scope).map(({ rule, ...probe }) => ({
        ...probe,
        fix: rule === probe.probe
          ? 'Attach the policy from `signet vault-policy --role signer`: its exact deny of this path outranks any glob that grants it'
          : `Attach the policy from \`signet vault-policy --role signer\`: its deny of ${rule} outranks any broader glob that grants it`,
      })),
      ...unguardedPaths(scope).map((probe) => ({ ...probe, fix: 'Remove the policy that grants it: the generated policies grant only read on the key and create+read on a record' })),
    ].filter((probe) => probe.capabilities.length > 0);
    // What the token must be able to do for revocations to outlive Redis: read the records.
    const required = grantedPaths(scope);
    const needed = [
      { probe: required.recordList, capabilities: ['list'] },
      { probe: required.record.replace(/\+$/, '1'), capabilities: ['read'] },
    ];
    let granted: Record<string, string[] | undefined>;
    try {
      const response = (await this.client.write('sys/capabilities-self', { paths: [...probes, ...needed].map((p) => p.probe) })) as { data?: Record<string, string[]> } | undefined;
      granted = response?.data ?? {};
    } catch (error) {
      return [...findings, `could not check what Signet's Vault token may do to key "${ref.key}" (${vaultError(error, 'sys/capabilities-self').message}). ${POLICY_ADVICE}`];
    }
    if (probes.some(({ probe }) => granted[probe]?.includes('root'))) return [ROOT_TOKEN_FINDING];
    for (const { probe, capabilities, risk, fix } of probes) {
      const held = capabilities.filter((capability) => granted[probe]?.includes(capability));
      if (held.length > 0) findings.push(`Signet's Vault token can ${held.join('/')} ${probe}: it could ${risk}. ${fix}`);
    }
    for (const { probe, capabilities } of needed) {
      const missing = capabilities.filter((capability) => !granted[probe]?.includes(capability));
      if (missing.length > 0) {
        findings.push(`Signet's Vault token cannot ${missing.join('/')} ${probe}: a replica that starts with an empty state_dir while Redis is empty would not learn the revocations kept there. Attach the policy from \`signet vault-policy --role signer\``);
      }
    }
    return findings;
  }

  async health(): Promise<BackendHealth> {
    try {
      const response = await this.client.read('sys/health');
      if (response.sealed === true) return { ok: false, detail: 'Vault is sealed' };
      return { ok: true, detail: `Vault at ${this.options.address}` };
    } catch (error) {
      return { ok: false, detail: vaultError(error, `Vault health at ${this.options.address}`).message };
    }
  }

  async close(): Promise<void> {
    this.guard.close();
    await this.client.close?.();
  }

}

function requestIdsOf(items: readonly SignItem[]): string | undefined {
  if (items.length === 1) return items[0]!.requestId;
  const ids = items.map((item) => item.requestId).filter((id): id is string => id !== undefined);
  return ids.length > 0 ? ids.join(',') : undefined;
}

/** `vault:vN:<base64url>` → signature bytes, checking Transit signed with the version we asked for. */
export function parseTransitSignature(signature: string | undefined, version: number, ref: KeyRef): Uint8Array {
  const match = /^vault:v(\d+):([A-Za-z0-9_-]+)$/.exec(signature ?? '');
  if (!match) throw new BackendResponseError(`Transit returned no JWS signature for "${ref.key}"`);
  if (Number(match[1]) !== version) {
    throw new BackendResponseError(`Transit signed "${ref.key}" with version ${match[1]}, not the requested ${version}`);
  }
  return Buffer.from(match[2]!, 'base64url');
}
