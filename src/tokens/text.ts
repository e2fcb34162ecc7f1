// What a name or string may contain before Signet signs it or matches it against a policy:
// no C0/C1 control character, no DEL, no lone UTF-16 surrogate. A newline in a subject or a NUL
// in a claim name means different things to different parsers downstream; refusing them is simpler
// than reasoning about every one.
import { InvalidValueError } from '../errors.js';

// C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F); then a high surrogate not followed by a low
// one, or a low one not preceded by a high one. No `u` flag: it would hide lone surrogates.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The reason `value` may not be signed or matched, or undefined when it is fine. */
export function unsafeTextReason(value: string): string | undefined {
  if (!UNSAFE.test(value)) return undefined;
  const chars = [...value]; // code points; a lone surrogate stays a one-unit string
  const at = chars.findIndex((char) => UNSAFE.test(char));
  const char = chars[at] ?? '';
  const code = char.codePointAt(0) ?? 0;
  const what = code >= 0xd800 && code <= 0xdfff ? 'a lone UTF-16 surrogate' : code === 0x7f ? 'DEL' : 'a control character';
  return `contains ${what} (U+${code.toString(16).toUpperCase().padStart(4, '0')}) at position ${at}`;
}

/** Throws ERR_INVALID_VALUE naming `where` (e.g. `subject`, `claims["scope"]`) when `value` is unsafe. */
export function checkText(value: string, where: string): void {
  const reason = unsafeTextReason(value);
  if (reason) throw new InvalidValueError(`${where} ${reason}; control characters, DEL and lone surrogates are never signed`);
}
