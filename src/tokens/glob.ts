// Policy patterns a security team can reason about (README: "Patterns").
//
// - `*` matches one or more characters, never a control character. Every other character is literal.
// - A pattern that starts with `scheme://` is a URL pattern. The audience must parse as a URL, be
//   written exactly as a URL parser prints it, carry no user information, and match component by
//   component: scheme and port exactly, the host label by label (`*` only as the whole leftmost
//   label, covering one or more labels), and path, query and fragment as globs whose `*` never
//   crosses `/ ? # @ :`.
// Hand-written because no maintained glob library matches parsed URL components this way.
import { unsafeTextReason } from './text.js';

export type Matcher = (value: string) => boolean;

/** A pattern in the config that cannot be given a clear meaning; the message says why. */
export class PatternError extends Error {}

const CONTROL = '\\u0000-\\u001F\\u007F-\\u009F';
const TEXT_STAR = `[^${CONTROL}]+`;
const URL_PART_STAR = `[^/?#@:${CONTROL}]+`;
const HOST_LABELS = '[a-z0-9_-]+(?:\\.[a-z0-9_-]+)*';
const URL_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function globRegExp(pattern: string, star: string): RegExp {
  return new RegExp(`^${pattern.split('*').map(escapeRegExp).join(star)}$`);
}

export function isUrlPattern(pattern: string): boolean {
  return URL_PATTERN.test(pattern);
}

/** How a URL parser prints `value`, or undefined when it is not a URL. */
export function canonicalUrl(value: string): string | undefined {
  try {
    return new URL(value).href;
  } catch {
    return undefined;
  }
}

// Written as a parser prints it, rebuilt from the components that are matched: so no user
// information and no empty "?" or "#" hides in the value. `https://a.example.com` and
// `https://a.example.com/` are the same URL; both spellings are accepted.
function isCanonical(value: string, url: URL): boolean {
  const rebuilt = `${url.protocol}//${url.host}${url.pathname}${url.search}${url.hash}`;
  if (rebuilt !== url.href) return false;
  return value === rebuilt || (url.pathname === '/' && !url.search && !url.hash && value === rebuilt.slice(0, -1));
}

function compileHost(hostname: string): RegExp {
  if (!hostname.includes('*')) return new RegExp(`^${escapeRegExp(hostname)}$`);
  if (!/^\*\.[^*]+$/.test(hostname)) {
    throw new PatternError(`host "${hostname}": "*" may only be the whole leftmost label, as in "*.example.com"`);
  }
  return new RegExp(`^${HOST_LABELS}${escapeRegExp(hostname.slice(1))}$`);
}

function compileUrl(pattern: string): Matcher {
  let url: URL;
  try {
    url = new URL(pattern);
  } catch {
    throw new PatternError('is not a valid URL pattern');
  }
  if (url.username || url.password) throw new PatternError('must not contain user information ("user@")');
  if (url.protocol.includes('*') || url.port.includes('*')) throw new PatternError('"*" may not stand in the scheme or the port');
  const host = compileHost(url.hostname);
  const path = globRegExp(url.pathname, URL_PART_STAR);
  const search = globRegExp(url.search, URL_PART_STAR);
  const hash = globRegExp(url.hash, URL_PART_STAR);
  const { protocol, port } = url;
  return (value) => {
    let candidate: URL;
    try {
      candidate = new URL(value);
    } catch {
      return false;
    }
    return (
      isCanonical(value, candidate) &&
      !candidate.username &&
      !candidate.password &&
      candidate.protocol === protocol &&
      candidate.port === port &&
      host.test(candidate.hostname) &&
      path.test(candidate.pathname) &&
      search.test(candidate.search) &&
      hash.test(candidate.hash)
    );
  };
}

/** Compiles an audience pattern (URL or text). Throws PatternError for one with no clear meaning. */
export function compileAudiencePattern(pattern: string): Matcher {
  const unsafe = unsafeTextReason(pattern);
  if (unsafe) throw new PatternError(unsafe);
  if (pattern === '') throw new PatternError('is empty');
  if (isUrlPattern(pattern)) return compileUrl(pattern);
  const regexp = globRegExp(pattern, TEXT_STAR);
  return (value) => regexp.test(value);
}

/** Compiles a subject pattern: `*` is one or more non-control characters, the rest literal. */
export function compileTextPattern(pattern: string): Matcher {
  const unsafe = unsafeTextReason(pattern);
  if (unsafe) throw new PatternError(unsafe);
  if (pattern === '') throw new PatternError('is empty');
  const regexp = globRegExp(pattern, TEXT_STAR);
  return (value) => regexp.test(value);
}
