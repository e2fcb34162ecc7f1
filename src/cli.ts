// signet: serve | keys list | jwks | token | client-key
// Operator commands read the same config as the server and talk to the backends directly, so
// they work when no gateway is running and act on the shared state every replica reads.
import { parseArgs } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildApp, createLogger } from './app.js';
import { generateApiKey, loadConfig, sha256Hex } from './config/load.js';
import { installReload } from './config/reload.js';
import type { SignetConfig } from './config-schema.js';
import { isLoopback } from './config/checks.js';
import { BackendUnavailableError, ConfigError, GatewayError } from './errors.js';
import { drainAndClose } from './resilience/shutdown.js';
import { issueToken } from './tokens/issue.js';
import { operatorPolicy } from './tokens/policy.js';
import { VAULT_ROLES, vaultPolicy, type VaultRole } from './vault/policy.js';

const USAGE = `Usage: signet <command> [options]

Commands:
  serve                       start the gateway (SIGNET_CONFIG=file, or the embedded dev default)
  keys list                   rings, versions, kids and lifecycle states
  keys rotate --ring NAME     create a new version (published now, signs after prepublish)
  keys revoke --ring NAME --version N [--reason TEXT]
                              emergency revocation: out of the JWKS and signing at once,
                              replaced by a new version, webhooks notified
  jwks [--ring NAME]          print the published JWKS
  token --aud AUD [--sub SUB] [--ttl SECONDS] [--ring NAME] [--claim name=json]...
                              issue one token (operator tool: any audience and claim, with the
                              API's reserved-claim, text, size and TTL checks)
  client-key                  generate an API key and the SHA-256 to put in the config
  doctor                      check config, backends, keys, canaries and key settings; exit 1 on failure
  vault-policy --role signer|rotator|reader
                              print the Vault/OpenBao policy for that role, with the exact paths
                              of the configured vault-transit ring keys

Environment: SIGNET_CONFIG, SIGNET_HOST, SIGNET_PORT, SIGNET_PUBLIC_URL, SIGNET_LOG_LEVEL,
SIGNET_DEV_API_KEY, SIGNET_DEV_ALLOW_REMOTE, SIGNET_DATA_DIR, SIGNET_JWKS_MAX_AGE_SECONDS, SIGNET_REDIS_URL`;

async function withKeys<T>(config: SignetConfig, work: (app: FastifyInstance) => Promise<T>, { signs = false } = {}): Promise<T> {
  // No scheduler here: looking at keys must never rotate them. No canary unless the command signs
  // anyway, so an operator's token without sign (vault-policy rotator or reader) works for the rest.
  const app = await buildApp(config, { logger: createLogger(process.env.SIGNET_LOG_LEVEL ?? 'error'), scheduling: false, ...(signs ? {} : { canary: false }) });
  try {
    await app.ready();
    return await work(app);
  } finally {
    await app.close();
  }
}

async function serve(config: SignetConfig): Promise<void> {
  const logger = createLogger(config.server.logLevel);
  // A backend that cannot be reached at start-up is retried, not fatal: exiting would be a crash loop.
  const app = await buildApp(config, { logger, requireKeysAtStart: false });
  await app.listen({ host: config.server.host, port: config.server.port });
  installReload(app, process.env, logger); // SIGHUP and config-file changes reload clients and identity providers
  if (config.devApiKey) {
    // A key the operator supplied is never echoed: it may be one they use elsewhere.
    const shown = (key: { value: string; generated: boolean }, variable: string): string =>
      key.generated ? `generated for this run; set ${variable} to keep one):\n  ${key.value}` : `from ${variable}; not shown)`;
    const { host, port, publicUrl } = config.server;
    process.stderr.write(`\nSignet dev mode on ${publicUrl} (listening on ${host.includes(':') ? `[${host}]` : host}:${port})\n  dev API key (${shown(config.devApiKey, 'SIGNET_DEV_API_KEY')}\n`);
    if (config.devAdminKey) process.stderr.write(`  dev admin key for /v1/admin (${shown(config.devAdminKey, 'SIGNET_DEV_ADMIN_API_KEY')}\n`);
    if (!isLoopback(host)) {
      process.stderr.write(`\n  !!! DEV MODE IS REACHABLE FROM THE NETWORK on ${host}:${port} (SIGNET_DEV_ALLOW_REMOTE=true): the dev client may sign any audience, subject and claim, and the admin API can rotate and revoke keys. Anyone who learns a key printed here can do both. !!!\n`);
    }
    process.stderr.write('\n');
  }
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    const { drainTimeoutMs, tokenDeadlineMs } = config.server.limits;
    app.log.info({ signal, drainTimeoutMs }, 'shutting down: draining requests in flight');
    const started = performance.now();
    drainAndClose(app, drainTimeoutMs, tokenDeadlineMs).then(
      (result) => {
        const ms = Math.round(performance.now() - started);
        if (result === 'cut') app.log.warn({ ms }, 'drain timeout passed: connections still open were cut');
        else app.log.info({ ms }, 'drained');
        logger.flush(() => process.exit(0)); // the log is written asynchronously
      },
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        logger.flush(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function iso(ms: number | undefined | null): string {
  return ms === undefined || ms === null ? '-' : new Date(ms).toISOString();
}

async function keysList(config: SignetConfig): Promise<void> {
  await withKeys(config, async (app) => {
    for (const ring of app.signet.keys.rings.values()) {
      const { view, versions } = ring.current();
      process.stdout.write(`ring ${ring.name}  (${ring.backend.kind} key "${ring.config.key}", ${ring.config.alg}, issuer ${ring.config.issuer})\n`);
      process.stdout.write(`  next change: ${iso(view.nextChangeAt)}  rotation due: ${iso(view.rotationDueAt)}\n`);
      for (const status of view.versions) {
        const created = versions.find((v) => v.version === status.version)?.createdAt.toISOString() ?? '-';
        const marker = status.version === view.signing ? '*' : ' ';
        process.stdout.write(`  ${marker} v${status.version}  ${status.state.padEnd(8)}  kid ${ring.kidOf(status.version)}  created ${created}  unpublish ${iso(status.unpublishAt)}\n`);
      }
    }
  });
}

function requiredRing(config: SignetConfig, ring: string | undefined): string {
  if (!ring) throw new ConfigError('--ring', `is required; rings: ${[...config.rings.keys()].join(', ')}`);
  return ring;
}

async function keysRotate(config: SignetConfig, ringName: string | undefined): Promise<void> {
  const name = requiredRing(config, ringName);
  await withKeys(config, async (app) => {
    const ring = app.signet.keys.ring(name);
    const version = await app.signet.rotation.rotateNow(ring);
    const status = ring.current().view.versions.find((v) => v.version === version);
    process.stdout.write(`ring ${name}: created v${version} (kid ${ring.kidOf(version)}), published now, signs from ${iso(status?.eligibleAt)}\n`);
  });
}

async function keysRevoke(config: SignetConfig, ringName: string | undefined, version: string | undefined, reason: string | undefined): Promise<void> {
  const name = requiredRing(config, ringName);
  if (!version || !/^[1-9][0-9]*$/.test(version)) throw new ConfigError('--version', 'is required: the version number to revoke (see `signet keys list`)');
  await withKeys(config, async (app) => {
    const ring = app.signet.keys.ring(name);
    const result = await app.signet.revocation.revoke(ring, Number(version), reason ?? 'revoked via CLI', 'cli');
    const signing = result.replacement ? `; v${result.replacement.version} (kid ${result.replacement.kid}) signs now` : '';
    process.stdout.write(`ring ${name}: revoked v${result.version} (kid ${result.kid}), recorded in ${result.recordedIn.join(', ')}${signing}\n`);
    if (result.replacementError) throw new BackendUnavailableError(`nothing signs now: no replacement could be created (${result.replacementError})`);
  });
}

/**
 * Key-audit findings fail doctor: each one weakens the non-exportable guarantee or is a check that
 * could not run. Only the local backend's finding warns: software keys are what it is.
 */
const AUDIT_SEVERITY: Readonly<Record<string, 'warn' | 'FAIL'>> = { local: 'warn' };

/** One line per check; failures make the exit code 1, warnings do not. */
async function doctor(config: SignetConfig): Promise<void> {
  let failed = false;
  const line = (status: 'ok' | 'warn' | 'FAIL', text: string): void => {
    if (status === 'FAIL') failed = true;
    process.stdout.write(`${status.padEnd(4)}  ${text}\n`);
  };
  line('ok', `config: ${config.rings.size} ring(s), ${config.backends.size} backend(s), ${config.clients.length} client(s)`);
  let app: FastifyInstance | undefined;
  try {
    app = await buildApp(config, { logger: createLogger('silent'), scheduling: false });
    await app.ready();
  } catch (error) {
    line('FAIL', `start-up: ${error instanceof GatewayError ? `${error.code}: ` : ''}${(error as Error).message}`);
  }
  if (app) {
    const { keys } = app.signet;
    for (const backend of new Set([...keys.rings.values()].map((ring) => ring.backend))) {
      const health = await backend.health();
      line(health.ok ? 'ok' : 'FAIL', `backend ${backend.kind}: ${health.detail ?? (health.ok ? 'healthy' : 'unhealthy')}`);
    }
    const audits = await keys.auditKeys();
    for (const ring of keys.rings.values()) {
      if (!ring.loaded) {
        line('FAIL', `ring ${ring.name}: not loaded (${ring.refreshError ?? 'see start-up above'})`);
        continue;
      }
      const { view } = ring.current();
      if (view.signing === null) line('FAIL', `ring ${ring.name}: no version may sign`);
      else line('ok', `ring ${ring.name}: v${view.signing} signs (kid ${ring.kidOf(view.signing)}), ${view.published.length} published, next change ${iso(view.nextChangeAt)}`);
      for (const [version, error] of ring.canaryFailures) line('FAIL', `ring ${ring.name}: canary of v${version} failed: ${error}`);
      for (const finding of audits.get(ring.name) ?? []) line(AUDIT_SEVERITY[ring.backend.kind] ?? 'FAIL', `ring ${ring.name}: ${finding}`);
    }
    await app.close();
  }
  if (failed) process.exitCode = 1;
}

async function printJwks(config: SignetConfig, ring: string | undefined): Promise<void> {
  await withKeys(config, async (app) => {
    const { document } = app.signet.keys.jwks(ring);
    process.stdout.write(`${JSON.stringify(JSON.parse(document.body.toString('utf8')), null, 2)}\n`);
  });
}

/** `name=json` (or `name=text` when the value is not JSON) → one claim. */
function claimArgument(pair: string): [string, unknown] {
  const at = pair.indexOf('=');
  if (at < 1) throw new ConfigError('--claim', `expected name=value, got "${pair}"`);
  const raw = pair.slice(at + 1);
  try {
    return [pair.slice(0, at), JSON.parse(raw)];
  } catch {
    return [pair.slice(0, at), raw];
  }
}

async function token(config: SignetConfig, values: Record<string, string | string[] | boolean | undefined>): Promise<void> {
  if (typeof values.aud !== 'string') throw new ConfigError('--aud', 'is required');
  if (values.ttl !== undefined && !/^[1-9][0-9]{0,9}$/.test(String(values.ttl))) throw new ConfigError('--ttl', 'must be a whole number of seconds (at least 1)');
  // fromEntries defines own properties, so "__proto__" stays a name the policy can see and refuse.
  const claims = Object.fromEntries(((values.claim as string[] | undefined) ?? []).map(claimArgument));
  await withKeys(config, async (app) => {
    // The API's checks, not a bypass: reserved claims, text rules, claim limits, TTL against the ring.
    const authorised = operatorPolicy(config.rings, config.claimLimits).authorise({
      audience: values.aud as string,
      subject: typeof values.sub === 'string' ? values.sub : undefined,
      ttl_seconds: values.ttl === undefined ? undefined : Number(values.ttl),
      claims,
      key: typeof values.ring === 'string' ? values.ring : undefined,
    });
    const issued = await issueToken(app.signet.keys.ring(authorised.ring), authorised, app.signet.clock());
    process.stdout.write(`${issued.token}\n`);
  }, { signs: true });
}

function printVaultPolicy(config: SignetConfig, role: string | undefined): void {
  if (!(VAULT_ROLES as readonly string[]).includes(role ?? '')) throw new ConfigError('--role', `must be one of ${VAULT_ROLES.join(', ')}`);
  process.stdout.write(vaultPolicy(config, role as VaultRole));
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ring: { type: 'string' },
      aud: { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string' },
      claim: { type: 'string', multiple: true },
      version: { type: 'string' },
      reason: { type: 'string' },
      role: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'client-key') {
    const key = generateApiKey();
    process.stdout.write(`api key (give to the client, store nowhere else): ${key}\napi_key_sha256 (put in the config): ${sha256Hex(key)}\n`);
    return;
  }
  const config = loadConfig();
  if (command === 'serve') return serve(config);
  if (command === 'keys' && sub === 'list') return keysList(config);
  if (command === 'keys' && sub === 'rotate') return keysRotate(config, values.ring);
  if (command === 'keys' && sub === 'revoke') return keysRevoke(config, values.ring, values.version, values.reason);
  if (command === 'jwks') return printJwks(config, values.ring);
  if (command === 'token') return token(config, values);
  if (command === 'doctor') return doctor(config);
  if (command === 'vault-policy') return printVaultPolicy(config, values.role);
  throw new ConfigError('command', `unknown command "${positionals.join(' ')}"\n\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`signet: configuration error: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof GatewayError) {
    process.stderr.write(`signet: ${error.code}: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`signet: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
