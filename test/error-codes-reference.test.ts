// The README's error code table against src/errors.ts, the one place codes and statuses live:
// every error a caller can receive is in the table with its status, and the table names no code
// the gateway cannot send.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';

/** [status, code] of every GatewayError class (instantiated: codes are instance fields). */
function gatewayErrors(): Array<[number, string]> {
  const found = new Map<string, number>();
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function' || !(value.prototype instanceof errors.GatewayError || value === errors.GatewayError)) continue;
    if (value === errors.ShedError || value === errors.ConflictError) continue; // abstract: only their subclasses are thrown
    const instance = new (value as new (message: string, extra?: unknown) => errors.GatewayError)('x', []);
    found.set(instance.code, instance.status);
  }
  return [...found].map(([code, status]) => [status, code]);
}

/** [status, code] pairs of the README's "Error codes" table (a row may list several codes). */
function documented(): Array<[number, string]> {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('### Configuration', readme.indexOf('### Error codes')));
  return [...table.matchAll(/^\| (\d{3}) \| ([^|]+) \|/gm)].flatMap((row) => [...row[2]!.matchAll(/ERR_[A-Z_]+/g)].map((code): [number, string] => [Number(row[1]), code[0]]));
}

describe('error codes reference (README "Error codes")', () => {
  it('lists every code a caller can receive, with its status, and no other', () => {
    const code = ([status, name]: [number, string]): string => `${status} ${name}`;
    const fromCode = gatewayErrors().map(code).sort();
    const fromReadme = documented().map(code).sort();
    expect(fromCode.length).toBeGreaterThan(30);
    expect(fromReadme).toEqual(fromCode);
  });
});
