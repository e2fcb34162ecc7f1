// Limits on what a caller may ask Signet to sign in `claims`: nesting depth, members per object or
// array, encoded size, and values that survive JSON unchanged. Verifiers parse what we sign; a
// 2,000-deep object signs fine here and then breaks PyJWT, and 12345678901234567890 would be
// signed as 12345678901234567000.
import { ClaimsLimitError, InvalidValueError } from '../errors.js';
import { checkText } from './text.js';
import type { ClaimLimits } from '../config-schema.js';


/** The one source of the defaults (config, README and tests read them from here). */
export const DEFAULT_CLAIM_LIMITS: Readonly<ClaimLimits> = { maxDepth: 8, maxMembers: 64, maxBytes: 4096 };

/** Names that would reach an object's prototype if copied by assignment anywhere downstream. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__']);

const where = (path: string, key: string | number): string => (typeof key === 'number' ? `${path}[${key}]` : `${path}[${JSON.stringify(key)}]`);

function checkNumber(value: number, path: string): void {
  if (!Number.isFinite(value)) throw new InvalidValueError(`${path} is not a finite number; JSON cannot carry it`);
  if (Object.is(value, -0)) throw new InvalidValueError(`${path} is -0, which JSON encodes as 0; send 0`);
  // Integral values past 2^53 were already rounded by the parser (12345678901234567890 → …7000).
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw new InvalidValueError(`${path} is an integer beyond ±(2^53−1), which cannot be carried exactly; send it as a string`);
  }
}

// Depth-first with the depth bounded before recursing, so the stack never grows past maxDepth.
function walk(value: unknown, path: string, depth: number, limits: ClaimLimits): void {
  switch (typeof value) {
    case 'string':
      return checkText(value, path);
    case 'number':
      return checkNumber(value, path);
    case 'boolean':
      return;
    case 'object':
      break;
    default:
      throw new InvalidValueError(`${path} is a ${typeof value}, which JSON cannot carry`);
  }
  if (value === null) return;
  if (depth > limits.maxDepth) throw new ClaimsLimitError(`${path} is nested ${depth} deep; claims may nest at most ${limits.maxDepth} objects or arrays deep`);
  if (Array.isArray(value)) {
    if (value.length > limits.maxMembers) throw new ClaimsLimitError(`${path} has ${value.length} items; the limit is ${limits.maxMembers}`);
    value.forEach((item, index) => walk(item, where(path, index), depth + 1, limits));
    return;
  }
  const keys = Object.keys(value);
  if (keys.length > limits.maxMembers) throw new ClaimsLimitError(`${path} has ${keys.length} members; the limit is ${limits.maxMembers}`);
  for (const key of keys) {
    checkText(key, `a name in ${path}`);
    if (PROTOTYPE_KEYS.has(key)) throw new InvalidValueError(`${where(path, key)}: "__proto__" is never accepted as a name`);
    walk((value as Record<string, unknown>)[key], where(path, key), depth + 1, limits);
  }
}

/** Throws ERR_CLAIMS_LIMIT or ERR_INVALID_VALUE, naming the offending member, unless `claims` can be signed as sent. */
export function checkClaims(claims: Record<string, unknown>, limits: ClaimLimits): void {
  walk(claims, 'claims', 1, limits);
  const bytes = Buffer.byteLength(JSON.stringify(claims), 'utf8'); // safe now: the depth is bounded
  if (bytes > limits.maxBytes) throw new ClaimsLimitError(`claims encode to ${bytes} bytes of JSON; the limit is ${limits.maxBytes}`);
}
