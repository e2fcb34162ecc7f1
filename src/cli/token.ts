// signet token: one token for any audience and claim, under the API's checks (not a bypass).
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { issueToken } from '../tokens/issue.js';
import { operatorPolicy } from '../tokens/policy.js';
import { addClaim, wholeNumber } from './arguments.js';
import type { CliIo } from './io.js';
import { withKeys } from './with-keys.js';

interface TokenOptions {
  aud: string;
  sub?: string;
  ttl?: number;
  ring?: string;
  claim: ReadonlyArray<readonly [string, unknown]>;
}

export function addToken(program: Command, io: CliIo): void {
  program
    .command('token')
    .description('issue one token (operator tool: any audience and claim, with the API\'s reserved-claim, text, size and TTL checks)')
    .requiredOption('--aud <audience>', 'the aud claim')
    .option('--sub <subject>', 'the sub claim (default: signet-cli)')
    .option('--ttl <seconds>', 'lifetime (default: the ring\'s default_token_ttl_seconds)', wholeNumber)
    .option('--ring <name>', 'the ring that signs (default: the first ring)')
    .option('--claim <name=value>', 'one more claim, repeatable; the value is JSON, or text when it is not JSON', addClaim, [])
    .action((options: TokenOptions) => {
      const config = loadConfig(io.env);
      // fromEntries defines own properties, so "__proto__" stays a name the policy can see and refuse.
      const claims = Object.fromEntries(options.claim);
      return withKeys(
        io,
        config,
        async (app) => {
          // The API's checks: reserved claims, text rules, claim limits, TTL against the ring.
          const authorised = operatorPolicy(config.rings, config.claimLimits).authorise({ audience: options.aud, subject: options.sub, ttl_seconds: options.ttl, claims, key: options.ring });
          const issued = await issueToken(app.signet.keys.ring(authorised.ring), authorised, app.signet.clock());
          io.stdout.write(`${issued.token}\n`);
        },
        { signs: true },
      );
    });
}
