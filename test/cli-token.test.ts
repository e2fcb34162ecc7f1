// `signet token` runs the API's checks: no reserved claims (iss, jti, exp…), no __proto__, the
// reserved urn:signet: audiences, claim limits, exact numbers, and the ring's TTL ceiling.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/gateway.js';

const run = promisify(execFile);

function configFile(): string {
  const file = join(tempDir(), 'signet.json');
  writeFileSync(file, JSON.stringify({ state_dir: tempDir(), backends: { dev: { type: 'local', data_dir: tempDir() } }, rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true, max_token_ttl_seconds: 600 }] }));
  return file;
}

async function signetToken(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'src/cli.ts', 'token', ...args], { env: { ...process.env, SIGNET_CONFIG: file, SIGNET_LOG_LEVEL: 'silent' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('signet token', () => {
  const file = configFile();
  const deep = JSON.stringify(Array.from({ length: 9 }).reduce<unknown>((inner) => ({ a: inner }), 1));

  // Each case is its own process; run them side by side.
  it.concurrent.each([
    ['iss', ['--aud', 'x', '--claim', 'iss="https://evil.example"'], 'ERR_RESERVED_CLAIM'],
    ['jti', ['--aud', 'x', '--claim', 'jti=replay'], 'ERR_RESERVED_CLAIM'],
    ['exp past the key publication', ['--aud', 'x', '--claim', 'exp=99999999999'], 'ERR_RESERVED_CLAIM'],
    ['__proto__', ['--aud', 'x', '--claim', '__proto__={"admin":true}'], 'ERR_INVALID_VALUE'],
    ['a webhook event audience', ['--aud', 'urn:signet:webhook:https://hooks.example.com'], 'ERR_AUDIENCE_RESERVED'],
    ['claims nested 9 deep', ['--aud', 'x', '--claim', `deep=${deep}`], 'ERR_CLAIMS_LIMIT'],
    ['a number that cannot be kept exactly', ['--aud', 'x', '--claim', 'n=12345678901234567890'], 'ERR_INVALID_VALUE'],
    ['a control character in the subject', ['--aud', 'x', '--sub', 'user:1\nadmin'], 'ERR_INVALID_VALUE'],
    ['a TTL over the ring maximum', ['--aud', 'x', '--ttl', '601'], 'ERR_TTL_TOO_LONG'],
  ])('refuses %s', async (_name, args, code) => {
    const result = await signetToken(file, args);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^signet: ${code}: `));
  });

  it('issues a token within the same rules', async () => {
    const result = await signetToken(file, ['--aud', 'https://api.example.com', '--ttl', '120', '--claim', 'scope="read"', '--claim', 'n=42']);
    expect(result.code).toBe(0);
    const claims = decodeJwt(result.stdout.trim());
    expect(claims).toMatchObject({ aud: 'https://api.example.com', sub: 'signet-cli', scope: 'read', n: 42 });
    expect(claims.exp! - claims.iat!).toBe(120);
  });
});
