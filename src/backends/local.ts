// Embedded development backend: software keys in a data directory. The keys are exportable by
// anyone who can read the directory; this backend exists so `npm start` works with no Vault.
import { constants, generateKeyPair, createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ALGORITHMS, NODE_HASH, type JwsAlg } from '../jose/algorithms.js';
import { BackendKeyMissingError, BackendResponseError, BackendVersionMissingError, InvalidRequestError } from '../errors.js';
import { SPAN, signAttributes, traced, tracing } from '../observability/tracing.js';
import { checkSampled, type BackendHealth, type KeyRef, type KeyVersion, type RevocationRecord, type SignatureCheck, type SignCall, type SigningBackend } from './backend.js';

const generate = promisify(generateKeyPair);

interface StoredVersion {
  version: number;
  createdAt: string;
  /** PKCS#8 PEM. Never leaves this file except into node:crypto. */
  privateKeyPem: string;
}
interface StoredKey {
  alg: JwsAlg;
  versions: StoredVersion[];
  /** Revocations live in the key file: as long as the key does. */
  revoked?: Record<string, RevocationRecord>;
}
interface LoadedKey {
  stamp: string;
  versions: LoadedVersion[];
  revoked: RevocationRecord[];
}
interface LoadedVersion extends KeyVersion {
  privateKey: KeyObject;
}

// Generation parameters per key type; RSA size is 2048 for speed in development.
const GENERATE: Readonly<Record<string, (alg: JwsAlg) => Promise<{ privateKey: KeyObject }>>> = {
  EC: (alg) => generate('ec', { namedCurve: { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', secp256k1: 'secp256k1' }[ALGORITHMS[alg].crv as string]! }),
  RSA: () => generate('rsa', { modulusLength: 2048 }),
  OKP: () => generate('ed25519'),
};

/** A key file → its versions, or an error that names the file and the way out. */
function parseKeyFile(file: string, text: string): Omit<LoadedKey, 'stamp'> {
  try {
    const stored = JSON.parse(text) as StoredKey;
    const versions = stored.versions.map((entry) => {
      const privateKey = createPrivateKey(entry.privateKeyPem);
      const createdAt = new Date(entry.createdAt);
      if (!Number.isSafeInteger(entry.version) || entry.version < 1 || Number.isNaN(createdAt.getTime())) throw new Error('a version without a number or a creation time');
      return { version: entry.version, createdAt, privateKey, spki: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }) };
    });
    return { versions, revoked: Object.values(stored.revoked ?? {}) };
  } catch (error) {
    const reason = error instanceof SyntaxError ? 'not JSON' : error instanceof TypeError ? 'not a Signet key file' : (error as Error).message.split('\n')[0];
    throw new BackendResponseError(`local key file ${file} cannot be read (${reason}): restore it from a backup, or move it away so that create_if_missing makes a new key`);
  }
}

export interface LocalBackendOptions {
  dataDir: string;
}

export class LocalBackend implements SigningBackend {
  readonly kind = 'local';
  private readonly keys = new Map<string, LoadedKey>();
  // Serialises writes per key so two concurrent rotations cannot both write version N+1.
  private writes = Promise.resolve();

  constructor(private readonly options: LocalBackendOptions) {}

  private file(key: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new InvalidRequestError(`invalid local key name "${key}"`);
    return join(this.options.dataDir, `${key}.json`);
  }

  /**
   * The key's versions. `fresh` re-reads the file when it changed on disk, so versions another
   * process added (`signet keys rotate` beside a running server) are seen on the next refresh.
   */
  private async load(ref: KeyRef, fresh = false): Promise<LoadedKey | undefined> {
    const file = this.file(ref.key);
    const cached = this.keys.get(ref.key);
    let stamp: string;
    try {
      const info = await stat(file);
      stamp = `${info.mtimeMs}:${info.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if (cached && (!fresh || cached.stamp === stamp)) return cached;
    const loaded = { stamp, ...parseKeyFile(file, await readFile(file, 'utf8')) };
    this.keys.set(ref.key, loaded);
    return loaded;
  }

  private async persist(ref: KeyRef, versions: LoadedVersion[], revoked: RevocationRecord[]): Promise<void> {
    const stored: StoredKey = {
      alg: ref.alg,
      versions: versions.map((v) => ({
        version: v.version,
        createdAt: v.createdAt.toISOString(),
        privateKeyPem: v.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
      })),
      revoked: Object.fromEntries(revoked.map((record) => [String(record.version), record])),
    };
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    const target = this.file(ref.key);
    const temporary = `${target}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(stored, null, 2), { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, target);
    const info = await stat(target);
    this.keys.set(ref.key, { stamp: `${info.mtimeMs}:${info.size}`, versions, revoked });
  }

  private async addVersion(ref: KeyRef, existing: LoadedKey | undefined): Promise<LoadedVersion> {
    const { privateKey } = await GENERATE[ALGORITHMS[ref.alg].kty]!(ref.alg);
    const created: LoadedVersion = {
      version: (existing?.versions.at(-1)?.version ?? 0) + 1,
      createdAt: new Date(),
      privateKey,
      spki: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }),
    };
    await this.persist(ref, [...(existing?.versions ?? []), created], existing?.revoked ?? []);
    return created;
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const result = this.writes.then(work);
    this.writes = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async ensureKey(ref: KeyRef): Promise<void> {
    await this.serialised(async () => {
      if (!(await this.load(ref))) await this.addVersion(ref, undefined);
    });
  }

  async listVersions(ref: KeyRef): Promise<KeyVersion[]> {
    const loaded = await this.load(ref, true);
    if (!loaded) throw new BackendKeyMissingError(`local key "${ref.key}" does not exist`);
    return loaded.versions.map(({ version, createdAt, spki }) => ({ version, createdAt, spki }));
  }

  async revocations(ref: KeyRef): Promise<RevocationRecord[]> {
    return (await this.load(ref, true))?.revoked ?? [];
  }

  async revokeVersion(ref: KeyRef, record: RevocationRecord): Promise<void> {
    await this.serialised(async () => {
      const loaded = await this.load(ref, true);
      if (!loaded) throw new BackendKeyMissingError(`local key "${ref.key}" does not exist`);
      if (loaded.revoked.some((known) => known.version === record.version)) return;
      await this.persist(ref, loaded.versions, [...loaded.revoked, record]);
    });
  }

  async createVersion(ref: KeyRef): Promise<KeyVersion> {
    return this.serialised(async () => {
      const existing = await this.load(ref, true);
      if (!existing) throw new BackendKeyMissingError(`local key "${ref.key}" does not exist`);
      const { version, createdAt, spki } = await this.addVersion(ref, existing);
      return { version, createdAt, spki };
    });
  }

  sign(ref: KeyRef, version: number, signingInput: Uint8Array, check?: SignatureCheck, call?: SignCall): Promise<Uint8Array> {
    const work = () => this.signNow(ref, version, signingInput, check);
    return tracing.on ? traced(SPAN.backendSign, signAttributes(this.kind, ref.ring, version, 1), work, { parent: call?.trace }) : work();
  }

  private async signNow(ref: KeyRef, version: number, signingInput: Uint8Array, check?: SignatureCheck): Promise<Uint8Array> {
    let loaded = await this.load(ref);
    if (loaded && !loaded.versions.some((v) => v.version === version)) loaded = await this.load(ref, true); // made by another process?
    if (!loaded) throw new BackendKeyMissingError(`local key "${ref.key}" does not exist`);
    const found = loaded.versions.find((v) => v.version === version);
    if (!found) throw new BackendVersionMissingError(`local key "${ref.key}" has no version ${version}`);
    const spec = ALGORITHMS[ref.alg];
    const hash = spec.kty === 'OKP' ? null : NODE_HASH[spec.hash]!;
    const key =
      spec.kty === 'EC'
        ? { key: found.privateKey, dsaEncoding: 'ieee-p1363' as const }
        : spec.rsaPadding === 'pss'
          ? { key: found.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } // RFC 7518 §3.5
          : found.privateKey;
    // The callback form runs on libuv's thread pool instead of blocking the event loop.
    const signature = await new Promise<Uint8Array>((resolve, reject) =>
      nodeSign(hash, signingInput, key, (error, signed) => (error ? reject(error) : resolve(signed))),
    );
    return checkSampled(check, ref, version, signingInput, signature);
  }

  async auditKey(ref: KeyRef): Promise<string[]> {
    return [`!!! LOCAL BACKEND (ring "${ref.ring}"): private keys are EXPORTABLE software keys on disk in ${this.options.dataDir}. For development only; use vault-transit or aws-kms in production !!!`];
  }

  async health(): Promise<BackendHealth> {
    return { ok: true, detail: `software keys in ${this.options.dataDir}` };
  }

  async close(): Promise<void> {
    await this.writes;
  }
}
