// Whether two text patterns (tokens/glob.ts) can match one string: config refuses identity
// matchers that overlap, so exactly one client can match a caller.
import { compileTextPattern } from './glob.js';

// Read from the matcher itself, so a stricter `*` (one or more characters) is followed here too.
const STAR_MATCHES_EMPTY = compileTextPattern('*')('');

type Piece = { kind: 'char'; char: string } | { kind: 'any' } | { kind: 'star' };

// `*` becomes "any one character" (when it must match at least one) followed by "any run".
function pieces(pattern: string): Piece[] {
  const out: Piece[] = [];
  for (const char of pattern) {
    if (char !== '*') out.push({ kind: 'char', char });
    else {
      if (!STAR_MATCHES_EMPTY) out.push({ kind: 'any' });
      out.push({ kind: 'star' });
    }
  }
  return out;
}

/**
 * Whether some string matches both patterns. Hand-written: no library decides the intersection
 * of two globs; it is a walk over pairs of positions (memoised), O(length × length).
 */
export function patternsOverlap(left: string, right: string): boolean {
  const a = pieces(left);
  const b = pieces(right);
  const seen = new Map<number, boolean>();
  const walk = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = seen.get(key);
    if (known !== undefined) return known;
    seen.set(key, false); // cycles cannot produce a match
    let result: boolean;
    const x = a[i];
    const y = b[j];
    if (!x && !y) result = true;
    else if (x?.kind === 'star') result = walk(i + 1, j) || (y !== undefined && walk(i, j + 1));
    else if (y?.kind === 'star') result = walk(i, j + 1) || (x !== undefined && walk(i + 1, j));
    else if (!x || !y) result = false;
    else result = (x.kind === 'any' || y.kind === 'any' || x.char === y.char) && walk(i + 1, j + 1);
    seen.set(key, result);
    return result;
  };
  return walk(0, 0);
}
