// The CLI's contract, in-process: --version, help per command, usage errors (exit 2) before any
// config is read, the exit-code table, and a help text that lists every variable the code reads.
import { readdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeOf } from '../src/cli/exit-codes.js';
import { ENVIRONMENT } from '../src/config/environment.js';
import * as errors from '../src/errors.js';
import { freePort } from './harness/tools.js';
import { configFile, localConfig, signet } from './helpers/cli.js';
import { tempDir } from './helpers/gateway.js';

const ROOT = join(import.meta.dirname, '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Every SIGNET_* name in src/, by file, outside the table that documents them. */
function signetNamesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !path.endsWith(join('config', 'environment.ts'))) {
        for (const [name] of readFileSync(path, 'utf8').matchAll(/\bSIGNET_[A-Z0-9_]*[A-Z0-9]\b/g)) found.set(name, relative(ROOT, path));
      }
    }
  };
  walk(join(ROOT, 'src'));
  return found;
}

describe('signet --version and --help', () => {
  it.each([['--version'], ['-V']])('%s prints the package.json version', async (flag) => {
    expect(await signet([flag])).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it.each([
    [['serve'], []],
    [['keys'], ['list', 'rotate', 'revoke']],
    [['keys', 'list'], []],
    [['keys', 'rotate'], ['--ring <name>']],
    [['keys', 'revoke'], ['--ring <name>', '--version <n>', '--reason <text>']],
    [['jwks'], ['--ring <name>']],
    [['token'], ['--aud <audience>', '--sub <subject>', '--ttl <seconds>', '--ring <name>', '--claim <name=value>']],
    [['client-key'], []],
    [['doctor'], []],
    [['vault-policy'], ['--role <role>', 'signer', 'rotator', 'reader']],
  ])('signet %j --help prints that command\'s usage', async (command, mentions) => {
    const help = await signet([...command, '--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout).toMatch(new RegExp(`^Usage: signet ${command.join(' ')} `));
    for (const text of mentions) expect(help.stdout).toContain(text);
    expect(await signet([...command.slice(0, -1), 'help', command.at(-1)!])).toEqual(help); // `signet keys help rotate` too
  });

  it('the help lists every SIGNET_ variable the code reads, and only those', async () => {
    const { code, stdout } = await signet(['--help']);
    expect(code).toBe(0);
    const environment = stdout.slice(stdout.indexOf('Environment'));
    const read = signetNamesInSource();
    const missing = [...read].filter(([name]) => !new RegExp(`\\b${name}\\b`).test(environment)).map(([name, file]) => `${name} (read in ${file})`);
    expect(missing, 'variables the code reads but the help does not list').toEqual([]);
    const documented = ENVIRONMENT.map((variable) => variable.name).filter((name) => name.startsWith('SIGNET_'));
    expect(documented.filter((name) => !read.has(name)), 'variables the help lists but no file in src/ uses').toEqual([]);
    const listed = [...environment.matchAll(/^ {2}([A-Z][A-Z0-9_]+) /gm)].map(([, name]) => name);
    expect(listed).toEqual(ENVIRONMENT.map((variable) => variable.name));
  });

  it('the CLI reference (docs/reference/cli.md) documents the same variables and exit codes', () => {
    const section = readFileSync(join(ROOT, 'docs', 'reference', 'cli.md'), 'utf8');
    expect([...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map(([, name]) => name)).toEqual(ENVIRONMENT.map((variable) => variable.name));
    expect([...section.matchAll(/^\| (\d) \|/gm)].map(([, code]) => Number(code))).toEqual(Object.values(EXIT));
  });

  it('the help documents the exit codes', async () => {
    const { stdout } = await signet(['--help']);
    for (const code of Object.values(EXIT)) expect(stdout).toMatch(new RegExp(`^ {2}${code} {2}\\S`, 'm'));
  });
});

describe('usage errors exit 2, before any config is read', () => {
  // SIGNET_CONFIG names a file that does not exist: reading it would be exit 3, not 2.
  const env = { SIGNET_CONFIG: '/nonexistent/signet.yaml' };

  it.each([
    [['keyz'], /unknown command 'keyz'\n\(Did you mean keys\?\)/],
    [['keys', 'rotat', '--ring', 'main'], /unknown command 'rotat'\n\(Did you mean rotate\?\)/],
    [['doctr'], /unknown command 'doctr'\n\(Did you mean doctor\?\)/],
  ])('an unknown command %j, with a suggestion', async (argv, message) => {
    const result = await signet(argv, env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^signet: usage error: /);
    expect(result.stderr).toMatch(message);
  });

  it.each([
    [['client-key', '--aud', 'x'], '--aud'],
    [['keys', 'list', '--ring', 'main'], '--ring'],
    [['jwks', '--aud', 'x'], '--aud'],
    [['doctor', '--role', 'signer'], '--role'],
    [['serve', '--port', '8080'], '--port'],
    [['token', '--aud', 'x', '--role', 'signer'], '--role'],
    [['vault-policy', '--role', 'signer', '--ring', 'main'], '--ring'],
    [['keys', 'rotate', '--ring', 'main', '--version', '2'], '--version'],
    [['--ring', 'main', 'keys', 'list'], '--ring'],
  ])('a flag the command does not take: %j', async (argv, flag) => {
    const result = await signet(argv, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^signet: usage error: unknown option '${flag}'`));
  });

  it.each([
    [['keys', 'revoke', '--ring', 'main', '--version', 'abc'], '--version <n>'],
    [['keys', 'revoke', '--ring', 'main', '--version', '0'], '--version <n>'],
    [['keys', 'revoke', '--ring', 'main', '--version', '2.5'], '--version <n>'],
    [['token', '--aud', 'x', '--ttl', '-5'], '--ttl <seconds>'],
    [['token', '--aud', 'x', '--ttl', '1e3'], '--ttl <seconds>'],
    [['token', '--aud', 'x', '--claim', 'no-equals-sign'], '--claim <name=value>'],
    [['vault-policy', '--role', 'admin'], '--role <role>'],
  ])('an invalid value: %j', async (argv, option) => {
    const result = await signet(argv, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`signet: usage error: option '${option}' argument`);
  });

  it.each([
    [['keys', 'rotate'], '--ring <name>'],
    [['keys', 'revoke', '--ring', 'main'], '--version <n>'],
    [['token'], '--aud <audience>'],
    [['vault-policy'], '--role <role>'],
  ])('a missing required flag: %j', async (argv, option) => {
    const result = await signet(argv, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^signet: usage error: required option '${option.replace(/[<>]/g, '.')}' not specified`));
  });

  it.each([[[]], [['keys']]])('no command (%j): the usage on stderr', async (argv) => {
    const result = await signet(argv, env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Usage: signet /);
  });

  it('`keys revoke --version N` is the revoke flag, not the program\'s --version', async () => {
    const result = await signet(['keys', 'revoke', '--ring', 'main', '--version', '3'], env);
    expect(result.stdout).not.toContain(VERSION);
    expect(result.code).toBe(3); // got as far as reading the (missing) config
  });
});

describe('exit codes', () => {
  // Also: serve refusing a bad config (3) and doctor finding a problem (1) in test/config.test.ts,
  // a policy refusing a token (1) in test/cli-token.test.ts.
  it.each([
    ['an unreadable config file', ['jwks'], { SIGNET_CONFIG: '/nonexistent/signet.yaml' }, /^signet: configuration error: SIGNET_CONFIG: cannot read/],
    ['a bad SIGNET_PORT', ['keys', 'list'], { SIGNET_PORT: 'eighty' }, /^signet: configuration error: server\.port/],
    ['a config without vault-transit rings', ['vault-policy', '--role', 'signer'], {}, /^signet: configuration error: backends: no vault-transit backend is used by a ring/],
  ])('3: %s', async (_name, argv, env, message) => {
    const result = await signet(argv, { SIGNET_CONFIG: configFile(localConfig()), ...env });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(message);
  });

  it('4: the backend does not answer', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const file = configFile({ backends: { vault: { type: 'vault-transit', address: closed, token: 'unused' } }, rings: [{ name: 'main', backend: 'vault', alg: 'ES256' }] });
    for (const argv of [['jwks'], ['keys', 'list'], ['token', '--aud', 'x']]) {
      const result = await signet(argv, { SIGNET_CONFIG: file, SIGNET_LOG_LEVEL: 'silent' });
      expect(result.code, argv.join(' ')).toBe(4);
      expect(result.stderr).toMatch(/^signet: ERR_BACKEND_UNAVAILABLE: .*ECONNREFUSED/);
    }
  });

  it.each([
    ['no such ring', ['jwks', '--ring', 'ghost'], /^signet: ERR_UNKNOWN_RING: no ring named "ghost"/],
    ['no such version', ['keys', 'revoke', '--ring', 'main', '--version', '9'], /^signet: ERR_UNKNOWN_VERSION: ring "main" has no version 9/],
  ])('2: %s', async (_name, argv, message) => {
    const result = await signet(argv, { SIGNET_CONFIG: configFile(localConfig()), SIGNET_LOG_LEVEL: 'silent' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it.each([
    { error: new errors.ConfigError('rings', 'x'), code: EXIT.config },
    { error: new errors.UnknownRingError('x'), code: EXIT.usage },
    { error: new errors.UnknownVersionError('x'), code: EXIT.usage },
    { error: new errors.BackendUnreachableError('x'), code: EXIT.unavailable },
    { error: new errors.BackendTimeoutError('x'), code: EXIT.unavailable },
    { error: new errors.BackendThrottledError('x'), code: EXIT.unavailable },
    { error: new errors.CircuitOpenError('x'), code: EXIT.unavailable },
    { error: new errors.NotReadyError('x'), code: EXIT.unavailable },
    { error: new errors.NoSigningVersionError('x'), code: EXIT.unavailable },
    { error: new errors.AuditUnavailableError('x'), code: EXIT.unavailable },
    { error: new errors.ReservedClaimError('x'), code: EXIT.failed },
    { error: new errors.BackendResponseError('x'), code: EXIT.failed },
    { error: new errors.KeyIntegrityError('x'), code: EXIT.failed },
    { error: new Error('x'), code: EXIT.failed },
  ])('$error.name → exit $code', ({ error, code }) => {
    expect(exitCodeOf(error)).toBe(code);
  });
});

describe('operator commands are audited', () => {
  it('`keys rotate` and `keys revoke` write admin records naming the CLI and the OS user, as the admin API does', async () => {
    const auditFile = join(tempDir('signet-cli-audit-'), 'audit.jsonl');
    const file = configFile(localConfig({ audit: { file: auditFile } }));
    const rotated = await signet(['keys', 'rotate', '--ring', 'main'], { SIGNET_CONFIG: file });
    expect(rotated.code, rotated.stderr).toBe(0);
    const revoked = await signet(['keys', 'revoke', '--ring', 'main', '--version', '1', '--reason', 'drill'], { SIGNET_CONFIG: file });
    expect(revoked.code, revoked.stderr).toBe(0);
    const records = readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const admin = `cli:${userInfo().username}`;
    expect(records.find((r) => r.audit === 'admin.rotate')).toMatchObject({ admin, action: 'rotate', ring: 'main', version: 2, client_address: 'local', request_id: expect.stringMatching(/^cli-/) });
    expect(records.find((r) => r.audit === 'admin.revoke')).toMatchObject({ admin, action: 'revoke', ring: 'main', version: 1, reason: 'drill', client_address: 'local', replacement: 2 });
    // v2 was pending (published, not yet signing): revoking v1 hands over to it, and the CLI says so.
    expect(revoked.stdout).toMatch(/^ring main: revoked v1 \(kid [\w-]+\), recorded in .*; v2 \(kid [\w-]+\) signs now\n$/);
  });
});
