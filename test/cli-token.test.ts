// `signet token` runs the API's checks: no reserved claims (iss, jti, exp…), no __proto__, the
// reserved urn:signet: audiences, claim limits, exact numbers, and the ring's TTL ceiling.
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { configFile, localConfig, signet } from './helpers/cli.js';

describe('signet token', () => {
  const file = configFile(localConfig({ rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true, max_token_ttl_seconds: 600 }] }));
  const signetToken = (args: string[]) => signet(['token', ...args], { SIGNET_CONFIG: file, SIGNET_LOG_LEVEL: 'silent' });
  const deep = JSON.stringify(Array.from({ length: 9 }).reduce<unknown>((inner) => ({ a: inner }), 1));

  it.each([
    ['iss', ['--aud', 'x', '--claim', 'iss="https://evil.example"'], 'ERR_RESERVED_CLAIM'],
    ['jti', ['--aud', 'x', '--claim', 'jti=replay'], 'ERR_RESERVED_CLAIM'],
    ['exp past the key publication', ['--aud', 'x', '--claim', 'exp=99999999999'], 'ERR_RESERVED_CLAIM'],
    ['__proto__', ['--aud', 'x', '--claim', '__proto__={"admin":true}'], 'ERR_INVALID_VALUE'],
    ['a webhook event audience', ['--aud', 'urn:signet:webhook:https://hooks.example.com'], 'ERR_AUDIENCE_RESERVED'],
    ['claims nested 9 deep', ['--aud', 'x', '--claim', `deep=${deep}`], 'ERR_CLAIMS_LIMIT'],
    ['a number that cannot be kept exactly', ['--aud', 'x', '--claim', 'n=12345678901234567890'], 'ERR_INVALID_VALUE'],
    ['a control character in the subject', ['--aud', 'x', '--sub', 'user:1\nadmin'], 'ERR_INVALID_VALUE'],
    ['a TTL over the ring maximum', ['--aud', 'x', '--ttl', '601'], 'ERR_TTL_TOO_LONG'],
  ])('refuses %s (exit 1: the policy refused)', async (_name, args, code) => {
    const result = await signetToken(args);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^signet: ${code}: `));
  });

  it('issues a token within the same rules', async () => {
    const result = await signetToken(['--aud', 'https://api.example.com', '--ttl', '120', '--claim', 'scope="read"', '--claim', 'n=42', '--claim', 'note=plain text']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const claims = decodeJwt(result.stdout.trim());
    expect(claims).toMatchObject({ aud: 'https://api.example.com', sub: 'signet-cli', scope: 'read', n: 42, note: 'plain text' });
    expect(claims.exp! - claims.iat!).toBe(120);
  });
});
