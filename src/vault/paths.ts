// The Vault/OpenBao paths of one ring key, in one place: the policy generator grants and denies
// them, and the key audit asks sys/capabilities-self about the same strings.
import { ConfigError } from '../errors.js';

/** Where revocation records live unless a backend sets revocation_kv_mount: Vault's default KV v2 mount. */
export const DEFAULT_REVOCATION_KV_MOUNT = 'secret';

/** One Transit key of a vault-transit backend, with the KV v2 mount holding its revocation records. */
export interface TransitKeyScope {
  /** Transit mount, without leading or trailing slashes. */
  mount: string;
  key: string;
  /** KV v2 mount of the revocation records. */
  kvMount: string;
}

// Transit's own name pattern (framework.GenericNameRegex): no `*` or `+`, so a name can never turn
// an exact policy path into a glob.
const TRANSIT_NAME = /^\w(?:[\w.-]*\w)?$/;
const MOUNT_SEGMENT = /^[\w-][\w.-]*$/;

/** Mount paths as Signet sends them: no leading or trailing slashes. */
export function trimMount(mount: string): string {
  return mount.replace(/^\/+|\/+$/g, '');
}

/** Refuses names that Vault would read as globs or that Transit would not accept; `where` names the config fields. */
export function checkedScope(scope: TransitKeyScope, where: { ring: string; backend: string }): TransitKeyScope {
  const checked = { mount: trimMount(scope.mount), key: scope.key, kvMount: trimMount(scope.kvMount) };
  if (!TRANSIT_NAME.test(checked.key)) throw new ConfigError(`${where.ring}.key`, `"${checked.key}" is not a Transit key name (letters, digits and "_", with "-" and "." inside)`);
  for (const [field, mount] of [['mount', checked.mount], ['revocation_kv_mount', checked.kvMount]] as const) {
    if (!mount.split('/').every((segment) => MOUNT_SEGMENT.test(segment))) {
      throw new ConfigError(`${where.backend}.${field}`, `"${mount}" is not a mount path Signet can write an exact policy for (letters, digits, "_", "-", "." and "/")`);
    }
  }
  return checked;
}

/** Where the revocation records of a key live, below `<kv>/data/` and `<kv>/metadata/`. */
export function revocationRecordsPath({ mount, key }: TransitKeyScope): string {
  return `signet/revocations/${mount}/${key}`;
}

/** Transit export types that carry private material (`<mount>/export/<type>/<key>`). */
export const SECRET_EXPORT_TYPES = ['encryption-key', 'signing-key', 'hmac-key'] as const;
/** Export types that carry only public material: denied too (Signet reads keys/<key>), but no audit finding. */
export const PUBLIC_EXPORT_TYPES = ['public-key', 'certificate-chain'] as const;

/** What Signet's tokens use, by role (see policy.ts for who gets which). */
export function grantedPaths(scope: TransitKeyScope) {
  const { mount, key, kvMount } = scope;
  const records = revocationRecordsPath(scope);
  return {
    sign: `${mount}/sign/${key}`,
    readKey: `${mount}/keys/${key}`,
    rotate: `${mount}/keys/${key}/rotate`,
    // `+` matches exactly one segment: a record's version, nothing nested below it.
    record: `${kvMount}/data/${records}/+`,
    recordList: `${kvMount}/metadata/${records}`,
  };
}

/**
 * A path no Signet token may use. `rule` is the policy path that denies it (exact where Vault
 * allows, a glob only where a version or a destination key is part of the path); `probe` is a
 * concrete path the key audit asks about, and `capabilities` the ones that would be a finding.
 */
export interface ForbiddenPath {
  rule: string;
  probe: string;
  capabilities: readonly string[];
  risk: string;
}

const WRITE = ['create', 'update', 'patch'] as const;

export function forbiddenPaths(scope: TransitKeyScope): ForbiddenPath[] {
  const { mount, key, kvMount } = scope;
  const records = revocationRecordsPath(scope);
  const keyPath = `${mount}/keys/${key}`;
  const exact = (rule: string, capabilities: readonly string[], risk: string): ForbiddenPath => ({ rule, probe: rule, capabilities, risk });
  const versions = (base: string, capabilities: readonly string[], risk: string): ForbiddenPath => ({ rule: `${base}/*`, probe: `${base}/1`, capabilities, risk });
  return [
    exact(`${keyPath}/config`, WRITE, 'change the key\'s config: exportable=true (never undone), plaintext backup, deletion, min_*_version'),
    exact(`${keyPath}/trim`, WRITE, 'trim (destroy) old versions'),
    exact(`${keyPath}/import`, WRITE, 'import outside key material'),
    exact(`${keyPath}/import_version`, WRITE, 'add a version whose private key someone outside knows'),
    exact(`${keyPath}/soft-delete`, [...WRITE, 'delete'], 'soft-delete the key (no deletion_allowed needed)'),
    exact(`${keyPath}/soft-delete-restore`, WRITE, 'restore a soft-deleted key'),
    exact(`${keyPath}/set-certificate`, WRITE, 'replace the key\'s certificate chain'),
    exact(`${keyPath}/csr`, [...WRITE, 'read'], 'sign certificate requests with the key'),
    ...SECRET_EXPORT_TYPES.flatMap((type) => [
      exact(`${mount}/export/${type}/${key}`, ['read'], `export the key's private material (${type})`),
      versions(`${mount}/export/${type}/${key}`, ['read'], `export a version's private material (${type})`),
    ]),
    ...PUBLIC_EXPORT_TYPES.flatMap((type) => [
      exact(`${mount}/export/${type}/${key}`, [], `public material only (${type}), but Signet never needs it`),
      versions(`${mount}/export/${type}/${key}`, [], `public material only (${type}), but Signet never needs it`),
    ]),
    // The destination key comes first, so only a `+` can name every destination.
    { rule: `${mount}/byok-export/+/${key}`, probe: `${mount}/byok-export/signet-audit/${key}`, capabilities: ['read'], risk: 'export the key wrapped for another key' },
    { rule: `${mount}/byok-export/+/${key}/*`, probe: `${mount}/byok-export/signet-audit/${key}/1`, capabilities: ['read'], risk: 'export a version wrapped for another key' },
    exact(`${mount}/backup/${key}`, ['read'], 'back up the key (a backup carries the private keys)'),
    exact(`${mount}/restore/${key}`, WRITE, 'restore a backup over the key'),
    exact(`${mount}/restore`, WRITE, 'restore a backup under the name it carries, over the key'),
    { rule: `${kvMount}/data/${records}/+/*`, probe: `${kvMount}/data/${records}/1/x`, capabilities: WRITE, risk: 'write entries below a revocation record' },
    versions(`${kvMount}/metadata/${records}`, [...WRITE, 'delete'], 'delete or expire revocation records (KV metadata)'),
    versions(`${kvMount}/delete/${records}`, WRITE, 'delete revocation records'),
    versions(`${kvMount}/undelete/${records}`, WRITE, 'undelete revocation records'),
    versions(`${kvMount}/destroy/${records}`, WRITE, 'destroy revocation records'),
  ];
}

/**
 * Dangerous capabilities on paths Signet itself uses, so they cannot be denied outright: the
 * generated policies grant only read on the key and create+read on a record, and exact and
 * segment rules outrank broader globs, but a grant on the same path in another policy adds up.
 */
export function unguardedPaths(scope: TransitKeyScope): Array<Omit<ForbiddenPath, 'rule'>> {
  const record = `${scope.kvMount}/data/${revocationRecordsPath(scope)}/1`;
  return [
    { probe: grantedPaths(scope).readKey, capabilities: ['delete'], risk: 'delete the key' },
    { probe: record, capabilities: ['update', 'patch', 'delete'], risk: 'rewrite or delete a revocation record' },
  ];
}
