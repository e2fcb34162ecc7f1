// JSON numbers that a double cannot hold as sent: `1e-400` would be signed as 0,
// `1.00000000000000001` as 1, `12345678901234567890` as 12345678901234567000. Signet signs what
// it was sent or refuses it, so the raw body is checked before parsing (JSON.parse gives no access
// to a number's source text on Node 20). Pure: one pass over the text, strings skipped.

const TOKEN = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** A decimal as sign, significant digits (no leading or trailing zeros) and the exponent of its last digit. */
function decimal(literal: string): { negative: boolean; digits: string; exponent: number } {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)!;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  let power = Number(exponent) - fraction.length;
  const trailing = /0+$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  power += trailing;
  return { negative: sign === '-', digits, exponent: digits === '' ? 0 : power };
}

/** Whether `literal`, read as a double, still says the same number (zero's sign aside). */
export function exactInDouble(literal: string): boolean {
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  const sent = decimal(literal);
  // String(value) is the shortest decimal that reads back as the same double.
  const kept = decimal(String(Math.abs(value)));
  return sent.digits === kept.digits && sent.exponent === kept.exponent;
}

/** The first number literal in a JSON text that a double cannot hold exactly, if any. */
export function firstInexactNumber(json: string): string | undefined {
  for (const [token] of json.matchAll(TOKEN)) {
    if (token.charCodeAt(0) !== 0x22 /* " */ && !exactInDouble(token)) return token;
  }
  return undefined;
}
