// Flag values checked while parsing, so a bad one is a usage error (exit 2) before any config loads.
import { InvalidArgumentError } from 'commander';

/** A whole number ≥ 1 with at most 10 digits (a TTL in seconds, a key version). */
export function wholeNumber(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number (at least 1).');
  return Number(value);
}

/** `--claim name=json`, repeatable: the value is JSON, or text when it is not JSON. */
export function addClaim(pair: string, claims: ReadonlyArray<readonly [string, unknown]>): ReadonlyArray<readonly [string, unknown]> {
  const at = pair.indexOf('=');
  if (at < 1) throw new InvalidArgumentError('expected name=value.');
  const raw = pair.slice(at + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return [...claims, [pair.slice(0, at), value]];
}
