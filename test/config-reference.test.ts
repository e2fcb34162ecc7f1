// The configuration reference (docs/reference/configuration.md) against the loader itself: every
// field the loader accepts is documented, every documented field is accepted, and every default
// the document states is the one the loader applies. The loader reports what it reads
// (observeFields in src/config/fields.ts) while it loads a config that sets every section.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, sha256Hex } from '../src/config/load.js';
import { observeFields } from '../src/config/fields.js';
import { TestCa } from './helpers/certs.js';
import { tempDir } from './helpers/gateway.js';

const HASH = sha256Hex('sgt_reference');

/** A config that reaches every branch of the loader: each backend type, TLS, AppRole, every client identity kind. */
function everySection(dir: string): Record<string, unknown> {
  const ca = TestCa.create('reference');
  const server = ca.issue('server', 'IP:127.0.0.1', { server: true });
  writeFileSync(join(dir, 'secret-id'), 'secret');
  writeFileSync(join(dir, 'vault-token'), 'token');
  return {
    server: { tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: ca.pem.certFile } },
    jwks: {},
    backends: {
      dev: { type: 'local', data_dir: join(dir, 'keys') },
      vault: { type: 'vault-transit', address: 'https://vault.internal:8200', token_file: join(dir, 'vault-token') },
      approle: { type: 'vault-transit', address: 'https://vault.internal:8200', approle: { role_id: 'r', secret_id_file: join(dir, 'secret-id') } },
      kms: { type: 'aws-kms', region: 'eu-west-1' },
    },
    rings: [{ name: 'main', backend: 'dev', alg: 'ES256' }],
    identity_providers: [{ name: 'k8s', issuer: 'https://k8s.internal', jwks_uri: 'https://k8s.internal/openid/v1/jwks', audiences: ['signet'] }],
    clients: [
      { name: 'keyed', api_key_sha256: HASH, rings: ['*'], audiences: ['*'] },
      { name: 'workload', identities: [{ provider: 'k8s', claims: { sub: 'system:serviceaccount:a:*' } }], certificates: [{ uri_san: 'spiffe://x/a/*' }, { dns_san: 'a.internal' }], subject_from: 'sub', rings: ['*'], audiences: ['*'] },
      { name: 'inline', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }, rings: ['*'], audiences: ['*'] },
      { name: 'remote', jwks_uri: 'https://keys.internal/jwks', rings: ['*'], audiences: ['*'] },
    ],
    admin: { keys: [{ name: 'alice', api_key_sha256: HASH }] },
    audit: {},
    webhooks: [{ url: 'https://hooks.internal/signet' }],
    claim_limits: {},
    reload: {},
    state_dir: join(dir, 'state'),
  };
}

/** rings[0].x → rings[].x; backends.vault.x → backends.<name>.x; claim maps are free-form. */
function normalise(path: string): string {
  return path.replace(/\[\d+\]/g, '[]').replace(/^backends\.[^.]+/, 'backends.<name>');
}

function observe(): { fields: Set<string>; defaults: Map<string, unknown> } {
  const dir = tempDir('signet-reference-');
  const file = join(dir, 'signet.json');
  writeFileSync(file, JSON.stringify(everySection(dir)));
  const fields = new Set<string>();
  const defaults = new Map<string, unknown>();
  observeFields(
    {
      allowed: (path, keys) => keys.forEach((key) => fields.add(normalise(path ? `${path}.${key}` : key))),
      defaulted: (field, fallback) => defaults.set(normalise(field), fallback),
    },
    () => loadConfig({ SIGNET_CONFIG: file }),
  );
  return { fields, defaults };
}

interface Row {
  field: string;
  defaultCell: string;
}

/** The rows of every table in the reference whose first column is a field path. */
function documentedRows(): Row[] {
  const text = readFileSync(join(import.meta.dirname, '..', 'docs', 'reference', 'configuration.md'), 'utf8');
  return [...text.matchAll(/^\| `([a-z0-9_<>.[\]]+)` \| ([^|]*) \|/gm)].map((match) => ({ field: match[1]!, defaultCell: match[2]!.trim() }));
}

/** Defaults the loader computes from other fields: the document states the rule, the test the value. */
const COMPUTED: Record<string, { cell: string; value: unknown }> = {
  'server.public_url': { cell: '`http://<host>:<port>`', value: undefined },
  'server.max_connections': { cell: 'the `nofile` limit − 128', value: undefined }, // applied by the connection guard, from the process limit
  'rings[].issuer': { cell: '`server.public_url`', value: undefined },
  'rings[].key': { cell: "the ring's `name`", value: 'main' }, // the test's ring is called main
};

/** Whether a default cell states the loader's literal default. */
function states(cell: string, value: unknown): boolean {
  const text = cell.replace(/`/g, '');
  if (Array.isArray(value)) return value.length === 0 ? text === '[]' : value.every((item) => text.includes(String(item)));
  if (typeof value === 'number') return new RegExp(`(^|[^0-9])${value}([^0-9]|$)`).test(text);
  return text.split(/[\s,()=]+/).includes(String(value));
}

describe('configuration reference (docs/reference/configuration.md)', () => {
  const { fields, defaults } = observe();
  const rows = documentedRows();
  const documented = new Set(rows.map((row) => row.field));

  it('documents every field the loader accepts', () => {
    const missing = [...fields].filter((field) => !documented.has(field) && ![...documented].some((row) => row.startsWith(`${field}.`) || row.startsWith(`${field}[]`)));
    expect(missing).toEqual([]);
    expect(rows.length).toBeGreaterThan(90);
  });

  it('documents no field the loader refuses', () => {
    expect([...documented].filter((field) => !fields.has(field))).toEqual([]);
  });

  it("states each default the loader applies, and '–' where it applies none", () => {
    const wrong: string[] = [];
    for (const { field, defaultCell } of rows) {
      const value = defaults.get(field);
      const computed = COMPUTED[field];
      if (computed) {
        if (defaultCell !== computed.cell || value !== computed.value) wrong.push(`${field}: documented ${defaultCell}, loader ${JSON.stringify(value)}`);
      } else if (value === undefined) {
        if (defaultCell !== '–') wrong.push(`${field}: documented ${defaultCell}, the loader has no default`);
      } else if (!states(defaultCell, value)) {
        wrong.push(`${field}: documented ${defaultCell}, the loader's default is ${JSON.stringify(value)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
