// The container and docker-compose.yml, validated without a Docker engine: the Dockerfile's
// pins, user and health check; what .dockerignore keeps out; production dependencies only; the
// final stage's files run as the image would (its user, nothing writable but the state volume,
// its HEALTHCHECK command); and a compose file whose every reference resolves.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, sha256Hex } from '../src/config/load.js';
import { freePort } from './harness/tools.js';
import { TEST_ADMIN_KEY, TEST_API_KEY, tempDir } from './helpers/gateway.js';
import { envNamesReadBySource, interpolatedNames, ROOT } from './helpers/infra.js';

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile → stages of instructions (continuation lines joined, comments dropped, ARG defaults applied to FROM). */
function dockerfile(): Stage[] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const [, keyword, rest] = /^(\S+)\s+(.*)$/.exec(line)!;
    const instruction = { keyword: keyword!.toUpperCase(), args: rest!.replace(/\s+/g, ' ') };
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value] = instruction.args.split('=');
      args.set(name!, value ?? '');
    } else if (instruction.keyword === 'FROM') {
      const [image, , name] = instruction.args.replace(/\$\{(\w+)\}/g, (_, arg: string) => args.get(arg) ?? '').split(' ');
      stages.push({ from: image!, name, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

const finalStage = (): Stage => dockerfile().at(-1)!;
const instructionsOf = (stage: Stage, keyword: string): string[] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

/**
 * Whether .dockerignore keeps a top-level path out of the build context. Only the syntax the file
 * uses is understood (`*`, `!name`, plain names); anything else fails the test rather than guess.
 */
function ignoredByDockerignore(path: string): boolean {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    expect(body, 'this test understands "*" and plain names in .dockerignore').toMatch(/^(\*|[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)$/);
    if (body === '*' || path === body || path.startsWith(`${body}/`)) ignored = !negated;
  }
  return ignored;
}

/** Sources of a COPY without --from, as written. */
function copySources(args: string): string[] {
  const parts = args.split(' ').filter((p) => !p.startsWith('--'));
  return parts.slice(0, -1).map((p) => posix.normalize(p).replace(/\/$/, ''));
}

describe('Dockerfile', () => {
  it('pins its base image to an exact Node.js LTS release allowed by package.json engines', () => {
    const stages = dockerfile();
    expect(stages.length).toBeGreaterThan(1);
    for (const stage of stages) {
      const match = /^node:(\d+)\.(\d+)\.(\d+)-[a-z]+-slim$/.exec(stage.from);
      expect(match, `${stage.from}: an exact node:<major.minor.patch>-<debian>-slim tag`).not.toBeNull();
      expect(['22', '24'], `${stage.from}: an LTS line`).toContain(match![1]);
    }
    expect(new Set(stages.map((s) => s.from)).size, 'every stage on the same base').toBe(1);
    const engines = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).engines.node;
    expect(engines).toBe('^20.19.0 || >=22.12.0');
  });

  it('runs as a numeric non-root user, checks its health with Node (no curl in slim images) and runs the compiled build', () => {
    const stage = finalStage();
    const users = instructionsOf(stage, 'USER');
    expect(users).toHaveLength(1);
    expect(users[0]).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    const [healthcheck] = instructionsOf(stage, 'HEALTHCHECK');
    expect(healthcheck).toMatch(/CMD \["node", "-e", ".*\/healthz.*"\]$/);
    expect(instructionsOf(stage, 'CMD')).toEqual(['["node", "dist/cli.js", "serve"]']);
    expect(instructionsOf(stage, 'VOLUME')).toEqual(['["/app/.signet"]']);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    for (const stage of dockerfile()) {
      for (const args of instructionsOf(stage, 'COPY').filter((a) => !a.includes('--from='))) {
        for (const source of copySources(args)) {
          expect(existsSync(join(ROOT, source)), `COPY ${source} exists`).toBe(true);
          expect(ignoredByDockerignore(source), `COPY ${source} is in the build context`).toBe(false);
        }
      }
    }
  });

  it('.dockerignore keeps dev keys, dependencies, build output, history and tests out of the build context', () => {
    for (const path of ['.signet', '.signet/keys/signet-default.json', 'node_modules', 'dist', '.git', 'test', 'bench', 'infra', 'coverage', '.env']) {
      expect(ignoredByDockerignore(path), path).toBe(true);
    }
  });

  it('installs production dependencies only: no tsx, esbuild or TypeScript at runtime', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const name of ['tsx', 'esbuild', 'typescript']) expect(Object.keys(pkg.dependencies)).not.toContain(name);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages as Record<string, { dev?: boolean }>;
    const buildTools = Object.entries(lock).filter(([path]) => /(^|\/)node_modules\/(tsx|esbuild|@esbuild\/[^/]+|typescript)$/.test(path));
    expect(buildTools.length).toBeGreaterThan(0);
    for (const [path, entry] of buildTools) expect(entry.dev, `${path} is a dev-only package`).toBe(true);
    expect(instructionsOf(finalStage(), 'RUN').join(' ')).not.toMatch(/npm (ci|install)/); // dependencies come from the deps stage
    const deps = dockerfile().find((s) => s.name === 'deps')!;
    expect(instructionsOf(deps, 'RUN')).toEqual(['npm ci --omit=dev --ignore-scripts --no-audit --no-fund']);
  });

  it("the final stage's files run as the image would: its user, nothing writable but the state volume, HEALTHCHECK passing, then failing once stopped", async () => {
    const stages = dockerfile();
    const stage = finalStage();
    const app = join(tempDir('signet-image-'), 'app');
    mkdirSync(app);
    // deps stage: its RUN line, in a copy of package.json and the lock.
    const deps = join(tempDir(), 'deps');
    mkdirSync(deps);
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(ROOT, file), join(deps, file));
    execFileSync('sh', ['-c', `${instructionsOf(stages.find((s) => s.name === 'deps')!, 'RUN')[0]} --prefer-offline`], { cwd: deps, stdio: 'pipe' });
    // build stage: compile src/ as `npm run build` does.
    const dist = join(tempDir(), 'dist');
    execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', dist], { cwd: ROOT, stdio: 'pipe' });
    const fromStage: Record<string, string> = { '/app/node_modules': join(deps, 'node_modules'), '/app/dist': dist };
    for (const args of instructionsOf(stage, 'COPY')) {
      const parts = args.split(' ');
      const target = join(app, parts.at(-1)!);
      if (args.startsWith('--from=')) cpSync(fromStage[parts[1]!]!, target, { recursive: true });
      else for (const source of copySources(args)) cpSync(join(ROOT, source), statSync(join(ROOT, source)).isDirectory() ? target : join(target, posix.basename(source)), { recursive: true });
    }
    expect(existsSync(join(app, 'node_modules', 'tsx')), 'no tsx in the image').toBe(false);
    expect(existsSync(join(app, 'node_modules', 'esbuild'))).toBe(false);

    // The image's user; the root filesystem read-only for it, except the state volume.
    const [uid, gid] = instructionsOf(stage, 'USER')[0]!.split(':').map(Number) as [number, number];
    const asRoot = process.getuid?.() === 0;
    const [volume] = JSON.parse(instructionsOf(stage, 'VOLUME')[0]!) as string[];
    const state = join(app, posix.relative(instructionsOf(stage, 'WORKDIR').at(-1)!, volume!));
    mkdirSync(join(state, 'state'), { recursive: true });
    const config = join(tempDir(), 'signet.json');
    writeFileSync(
      config,
      JSON.stringify({
        backends: { dev: { type: 'local', allow_in_production: true } },
        rings: [{ name: 'default', backend: 'dev', alg: 'ES256', create_if_missing: true }],
        clients: [{ name: 'image-test', api_key_sha256: sha256Hex(TEST_API_KEY), rings: ['*'], audiences: ['*'] }],
        admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
      }),
    );
    if (asRoot) {
      for (const dir of [app, join(app, '..'), join(config, '..')]) chmodSync(dir, 0o755);
      chmodSync(config, 0o644);
      chownSync(state, uid, gid);
      chownSync(join(state, 'state'), uid, gid);
    } else {
      spawnSync('chmod', ['-R', 'a-w', app]);
      spawnSync('chmod', ['-R', 'u+w', state]);
    }
    const before = listFiles(app, state);

    const port = await freePort();
    const env: Record<string, string> = { PATH: process.env.PATH!, HOME: '/nonexistent' };
    for (const args of instructionsOf(stage, 'ENV')) for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) env[key!] = value!;
    Object.assign(env, { SIGNET_CONFIG: config, SIGNET_HOST: '127.0.0.1', SIGNET_PORT: String(port) });
    const [cmd, ...cmdArgs] = JSON.parse(instructionsOf(stage, 'CMD')[0]!) as string[];
    const server = spawn(cmd === 'node' ? process.execPath : cmd!, cmdArgs, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'], ...(asRoot ? { uid, gid } : {}) });
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    const healthcheck = JSON.parse(/CMD (\[.*\])$/.exec(instructionsOf(stage, 'HEALTHCHECK')[0]!)![1]!) as string[];
    const runHealthcheck = (): number | null => spawnSync(process.execPath, healthcheck.slice(1), { env: { ...env }, timeout: 5000 }).status;
    try {
      let healthy = false;
      for (let attempt = 0; attempt < 100 && !healthy && server.exitCode === null; attempt++) {
        healthy = runHealthcheck() === 0;
        if (!healthy) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(healthy, `HEALTHCHECK passes once the server is up; server output:\n${output}`).toBe(true);
      const token = await fetch(`http://127.0.0.1:${port}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ audience: 'https://api.example.com' }),
      });
      expect(token.status).toBe(200);
      // A rotation writes a new key version into the state volume.
      const rotate = await fetch(`http://127.0.0.1:${port}/v1/admin/rings/default/rotate`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
      expect(rotate.status, output).toBe(200);
      expect(listFiles(app, state), 'nothing written outside the state volume').toEqual(before);
      expect(readdirSync(join(state, 'keys')).length).toBeGreaterThan(0);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited, `clean exit on SIGTERM; output:\n${output}`).toBe(0);
    expect(runHealthcheck(), 'HEALTHCHECK fails when nothing answers').toBe(1);
  }, 120_000);
});

/** Every path under `root` except those under `skip`. */
function listFiles(root: string, skip: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (path === skip) continue;
      found.push(path);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(root);
  return found.sort();
}

describe('bin/signet.js without a build', () => {
  it('falls back to the TypeScript sources through tsx (a clone after npm ci, before npm run build)', () => {
    const clone = tempDir('signet-clone-');
    for (const entry of ['package.json', 'bin']) cpSync(join(ROOT, entry), join(clone, entry), { recursive: true });
    for (const entry of ['src', 'node_modules']) symlinkSync(join(ROOT, entry), join(clone, entry));
    const result = spawnSync(process.execPath, [join(clone, 'bin', 'signet.js'), 'client-key'], { cwd: clone, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/sgt_[A-Za-z0-9_-]{43}/);
    expect(result.status).toBe(0);
  });
});

describe('docker-compose.yml', () => {
  const compose = (): any => parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
  const signetServices = (): Array<[string, any]> => Object.entries(compose().services as Record<string, any>).filter(([, s]) => s.build);
  const composeDefault = (value: string): string => value.replace(/\$\{\w+:-([^}]*)\}/g, '$1');

  it('parses, and every service it depends on, file it mounts and build it names exists', () => {
    const { services, volumes } = compose();
    for (const [name, service] of Object.entries(services as Record<string, any>)) {
      for (const dependency of Object.keys(Array.isArray(service.depends_on) ? Object.fromEntries(service.depends_on.map((d: string) => [d, {}])) : (service.depends_on ?? {}))) {
        expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
      }
      for (const volume of service.volumes ?? []) {
        const [source] = (volume as string).split(':');
        if (source!.startsWith('.')) expect(existsSync(join(ROOT, source!)), `${name} mounts ${source}`).toBe(true);
        else expect(Object.keys(volumes ?? {}), `${name}: named volume ${source}`).toContain(source);
      }
      if (service.build) expect(existsSync(join(ROOT, service.build, 'Dockerfile'))).toBe(true);
      else expect(service.image, `${name}: an exact image tag`).toMatch(/^[a-z0-9/._-]+:v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$/);
    }
  });

  it('publishes each host port once', () => {
    const ports = Object.values(compose().services as Record<string, any>).flatMap((s) => (s.ports ?? []).map((p: string) => p.split(':')[0]));
    expect(ports.length).toBeGreaterThan(0);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('runs two Signet replicas sharing one issuer and one Redis, read-only, without Vault root token', () => {
    const replicas = signetServices();
    expect(replicas.map(([name]) => name)).toEqual(['signet-1', 'signet-2']);
    for (const [name, service] of replicas) {
      expect(service.read_only, name).toBe(true);
      expect(service.cap_drop).toEqual(['ALL']);
      expect(Object.keys(service.environment)).not.toContain('VAULT_TOKEN');
      expect(service.depends_on['vault-setup']).toEqual({ condition: 'service_completed_successfully' });
    }
    const env = replicas.map(([, s]) => s.environment);
    expect(env[0].SIGNET_PUBLIC_URL).toBe(env[1].SIGNET_PUBLIC_URL);
    expect(env[0].SIGNET_REDIS_URL).toMatch(/^redis:\/\/redis:6379$/);
    expect(env[1].SIGNET_REDIS_URL).toBe(env[0].SIGNET_REDIS_URL);
  });

  it("sets Signet env vars the source or the config reads, and the config loads with them and vault-setup's secret ID file", () => {
    const [, service] = signetServices()[0]!;
    const mounts = new Map<string, string>((service.volumes as string[]).map((v) => [v.split(':')[1]!, v.split(':')[0]!]));
    const configHostPath = mounts.get(service.environment.SIGNET_CONFIG)!;
    let configText = readFileSync(join(ROOT, configHostPath), 'utf8');
    const read = envNamesReadBySource();
    const referenced = interpolatedNames(configText);
    for (const name of Object.keys(service.environment)) expect(read.has(name) || referenced.has(name), `${name} is read`).toBe(true);
    for (const name of referenced) expect(Object.keys(service.environment), `\${${name}} is set`).toContain(name);

    // vault-setup writes the AppRole secret ID into the shared volume Signet mounts.
    const setup = compose().services['vault-setup'];
    const setupScript = setup.command.join('\n') as string;
    expect(setupScript).toMatch(/^sh \/infra\/vault\/setup-dev\.sh$/m);
    expect(setup.environment.SETUP_PRINT_SECRET_IDS).toBe('no'); // no secret_id in `docker compose logs`
    expect(setup.volumes).toContain('./infra/vault:/infra/vault:ro');
    const secretIdFile = /> (\/run\/approle\/secret-id)$/m.exec(setupScript)![1]!;
    expect(setupScript).toContain(`role_id=${service.environment.VAULT_ROLE_ID}`);
    const approleMount = [...mounts.entries()].find(([, source]) => source === 'approle')![0];
    expect(secretIdFile.startsWith(`${approleMount}/`)).toBe(true);
    const approle = tempDir();
    writeFileSync(join(approle, posix.basename(secretIdFile)), 'test-secret-id');
    configText = configText.replaceAll(`${approleMount}/`, `${approle}/`);
    const file = join(tempDir(), 'signet.yaml');
    writeFileSync(file, configText);
    const env = Object.fromEntries(Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, composeDefault(String(v))]));
    const config = loadConfig({ ...env, SIGNET_CONFIG: file });
    expect(config.backends.get('vault')).toMatchObject({ type: 'vault-transit', address: 'http://openbao:8200', approle: { roleId: 'signet-compose', secretId: 'test-secret-id' } });
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(config.redisUrl).toBe('redis://redis:6379');
  });

  it("loads infra/prometheus/alerts.yml into Prometheus and scrapes both replicas as job signet", () => {
    const prometheus = compose().services.prometheus;
    const mounts = new Map<string, string>((prometheus.volumes as string[]).map((v) => [v.split(':')[1]!, v.split(':')[0]!]));
    const config = parse(readFileSync(join(ROOT, mounts.get('/etc/prometheus/prometheus.yml')!), 'utf8'));
    expect(config.rule_files.map((path: string) => mounts.get(path))).toEqual(['./infra/prometheus/alerts.yml']);
    const job = config.scrape_configs.find((s: any) => s.job_name === 'signet');
    const targets = job.static_configs.flatMap((c: any) => c.targets);
    expect(targets).toEqual(signetServices().map(([name]) => `${name}:8080`));
  });
});
