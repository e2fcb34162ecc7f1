// Start-up checks that need more than a field's type: each failure names the field or the
// environment variable it came from, and says what to do.
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { LineCounter, parseDocument, visit } from 'yaml';
import { ConfigError } from '../errors.js';
import { ALGORITHMS, type JwsAlg } from '../jose/algorithms.js';
import type { BackendConfig } from '../config-schema.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The field a value came from: the env variable when it overrode the file. */
export function source(env: Env, variable: string, field: string): string {
  return env[variable] !== undefined ? variable : field;
}

export function checkLogLevel(value: string, field: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new ConfigError(field, `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

// RFC 1123 host names (labels of letters, digits and hyphens) or an IP literal.
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function checkHost(value: string, field: string): string {
  if (isIP(value) === 0 && !HOSTNAME.test(value)) {
    throw new ConfigError(field, `must be an IP address or a host name to listen on (e.g. 127.0.0.1, 0.0.0.0, ::), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Loopback: what dev mode may listen on without exposing its wildcard client. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function checkRedisUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(field, `must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got a value that is not a URL`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ConfigError(field, `must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got scheme "${url.protocol}"`);
  if (!url.hostname) throw new ConfigError(field, 'names no host; write it as redis://HOST:PORT');
  return value;
}

/** The PEM files of server.tls must hold a certificate and its private key. */
export function checkTlsPair(certPem: string, keyPem: string, certFile: string, keyFile: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new ConfigError('server.tls.cert_file', `${certFile} does not hold a PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new ConfigError('server.tls.key_file', `${keyFile} does not hold a PEM private key ("-----BEGIN PRIVATE KEY-----")`);
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError('server.tls.key_file', `${keyFile} is not the private key of the certificate in ${certFile}`);
}

/** Revocations are written here: find out now, not when a revoke returns 500 and the key stays live. */
export function checkWritableDir(dir: string, field: string): void {
  const probe = join(dir, `.signet-write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    throw new ConfigError(field, `${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)}): revocations are recorded there. Fix its permissions or point ${field} at a writable directory`);
  }
}

// What each backend type can sign: one table instead of a branch per backend.
const CAN_SIGN: Readonly<Record<BackendConfig['type'], (alg: JwsAlg) => boolean>> = {
  local: () => true,
  'vault-transit': (alg) => ALGORITHMS[alg].vaultKeyTypes !== undefined,
  'aws-kms': (alg) => ALGORITHMS[alg].kmsKeySpecs.length > 0,
};

/** Checked for every ring before any backend is called, so a bad ring never follows half-created keys. */
export function checkAlgOnBackend(alg: JwsAlg, backend: BackendConfig, field: string): void {
  if (CAN_SIGN[backend.type](alg)) return;
  const other = (Object.keys(CAN_SIGN) as Array<BackendConfig['type']>).filter((type) => CAN_SIGN[type](alg));
  throw new ConfigError(field, `${alg} cannot be signed by backend "${backend.name}" (${backend.type}). Use a ${other.join(' or ')} backend for ${alg}, or another alg`);
}

const CORE_TAGS: ReadonlySet<string> = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`));

/**
 * YAML (or JSON) text → a plain value with `${NAME}` replaced by environment variables.
 * `${NAME}` becomes an inert placeholder before parsing, so it works anywhere a scalar may stand,
 * flow maps included (`approle: { role_id: ${ROLE_ID} }`), and a value can never add YAML structure.
 * Tags YAML cannot resolve by itself (`!foo`, `!!python/object`) are errors, not warnings.
 */
export function parseConfigText(text: string, file: string, env: Env): unknown {
  const nonce = randomBytes(6).toString('hex');
  const names: string[] = [];
  const marked = text.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => `SIGNETENV${nonce}N${names.push(name) - 1}X`);
  const lineCounter = new LineCounter();
  const document = parseDocument(marked, { uniqueKeys: true, lineCounter });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) {
    const line = problem.linePos?.[0]?.line;
    const what = problem.code === 'TAG_RESOLVE_FAILED' ? `a YAML tag Signet does not accept (${problem.message.split(' at line')[0]}); remove the tag` : problem.message.split(' at line')[0];
    throw new ConfigError('SIGNET_CONFIG', `${file}${line ? ` line ${line}` : ''}: ${what}`);
  }
  // Tags the parser does resolve (!!binary, !!set, !!omap, !!timestamp…) turn text into objects a
  // config reader does not expect: only the JSON-compatible core tags may be written out.
  visit(document, {
    Node(_key, node) {
      if (node.tag === undefined || CORE_TAGS.has(node.tag)) return;
      const line = node.range ? lineCounter.linePos(node.range[0]).line : undefined;
      throw new ConfigError('SIGNET_CONFIG', `${file}${line ? ` line ${line}` : ''}: a YAML tag Signet does not accept (${node.tag}); remove the tag`);
    },
  });
  const placeholder = new RegExp(`SIGNETENV${nonce}N(\\d+)X`, 'g');
  const resolve = (value: unknown, path: string): unknown => {
    if (typeof value === 'string') {
      return value.replace(placeholder, (_, index: string) => {
        const name = names[Number(index)]!;
        const found = env[name];
        if (found === undefined) throw new ConfigError(path, `refers to \${${name}}, which is not set in the environment`);
        return found;
      });
    }
    if (Array.isArray(value)) return value.map((item, index) => resolve(item, `${path}[${index}]`));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item, path ? `${path}.${key}` : key)]));
    }
    return value;
  };
  return resolve(document.toJS({ maxAliasCount: 100 }), '');
}
