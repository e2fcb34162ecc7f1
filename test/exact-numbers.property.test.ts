// The exact-number check: every double's shortest form passes (so no number Signet could have
// produced itself is refused), and a literal passes only when a double reads it back unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exactInDouble, firstInexactNumber } from '../src/http/exact-numbers.js';

describe('exact JSON numbers', () => {
  it('accepts every finite double as JSON.stringify writes it', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => exactInDouble(JSON.stringify(value))), { numRuns: 5000 });
  });

  it('accepts a literal exactly when reading it as a double and writing it back gives the same decimal', () => {
    const literal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^(0|[1-9]\d{0,24})$/), fc.option(fc.stringMatching(/^\d{1,24}$/)), fc.option(fc.integer({ min: -400, max: 400 })))
      .map(([negative, whole, fraction, exponent]) => `${negative ? '-' : ''}${whole}${fraction === null ? '' : `.${fraction}`}${exponent === null ? '' : `e${exponent}`}`);
    fc.assert(
      fc.property(literal, (text) => {
        const value = Number(text);
        // Independent oracle: BigInt arithmetic on the decimal, compared with the double's own decimal.
        const exact = Number.isFinite(value) && sameDecimal(text, JSON.stringify(value));
        expect(exactInDouble(text)).toBe(exact);
      }),
      { numRuns: 5000 },
    );
  });

  it('finds numbers only outside strings', () => {
    expect(firstInexactNumber('{"a":"1e-400","b":"\\"1e-400","c":[1,2.5]}')).toBeUndefined();
    expect(firstInexactNumber('{"a":"x","b":[1,{"c":1e-400}]}')).toBe('1e-400');
  });
});

/** Whether two decimal literals name the same rational number (BigInt, no floating point). */
function sameDecimal(a: string, b: string): boolean {
  const rational = (text: string): [bigint, number] => {
    const [, sign, whole, fraction = '', exponent = '0'] = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text)!;
    const mantissa = BigInt(`${whole}${fraction}`) * (sign === '-' ? -1n : 1n);
    return [mantissa, Number(exponent) - fraction.length];
  };
  let [ma, ea] = rational(a);
  let [mb, eb] = rational(b);
  if (ma === 0n || mb === 0n) return ma === 0n && mb === 0n;
  // Bring both to the smaller exponent.
  while (ea > eb) { ma *= 10n; ea--; }
  while (eb > ea) { mb *= 10n; eb--; }
  return ma === mb;
}
