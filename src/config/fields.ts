// Typed readers over untrusted config objects. Each failure names the field's full path and
// says what would be accepted, so a wrong config is fixed from the message alone.
import { ConfigError } from '../errors.js';
import { unsafeTextReason } from '../tokens/text.js';

export type Raw = Record<string, unknown>;

/**
 * Told of every field the loader allows and every default it applies, so the configuration
 * reference can be checked against the loader itself (test/config-reference.test.ts).
 */
export interface FieldObserver {
  allowed(path: string, keys: readonly string[]): void;
  defaulted(field: string, fallback: unknown): void;
}

let observer: FieldObserver | undefined;

/** Runs `work` (a loadConfig call) with `watch` told of every field read. */
export function observeFields<T>(watch: FieldObserver, work: () => T): T {
  observer = watch;
  try {
    return work();
  } finally {
    observer = undefined;
  }
}

export class Fields {
  constructor(
    readonly path: string,
    private readonly raw: Raw,
    allowed: readonly string[],
  ) {
    observer?.allowed(path, allowed);
    for (const key of Object.keys(raw)) {
      if (!allowed.includes(key)) {
        throw new ConfigError(this.at(key), `unknown field. Allowed here: ${allowed.join(', ')}`);
      }
    }
  }

  static of(path: string, value: unknown, allowed: readonly string[]): Fields {
    if (value === undefined || value === null) return new Fields(path, {}, allowed);
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(path, 'must be a mapping (key: value)');
    return new Fields(path, value as Raw, allowed);
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  value(key: string): unknown {
    return this.raw[key];
  }

  string(key: string, fallback?: string): string {
    observer?.defaulted(this.at(key), fallback);
    const value = this.raw[key] ?? fallback;
    if (typeof value !== 'string' || value.length === 0) {
      throw new ConfigError(this.at(key), fallback === undefined && value === undefined ? 'is required (a non-empty string)' : 'must be a non-empty string');
    }
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback?: T): T {
    observer?.defaulted(this.at(key), fallback);
    const value = this.raw[key] ?? fallback;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      throw new ConfigError(this.at(key), `must be one of ${choices.join(', ')}${value === undefined ? ' (it is required)' : `, got ${JSON.stringify(value)}`}`);
    }
    return value as T;
  }

  integer(key: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    observer?.defaulted(this.at(key), fallback);
    const raw = this.raw[key] ?? fallback;
    const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(this.at(key), `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  }

  /** A duration in whole seconds in the file, returned in milliseconds. */
  seconds(key: string, fallbackSeconds: number, limits?: { min?: number; max?: number }): number {
    return this.integer(key, fallbackSeconds, limits) * 1000;
  }

  boolean(key: string, fallback: boolean): boolean {
    observer?.defaulted(this.at(key), fallback);
    const value = this.raw[key] ?? fallback;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new ConfigError(this.at(key), `must be true or false, got ${JSON.stringify(value)}`);
  }

  strings(key: string, fallback?: string[]): string[] {
    observer?.defaulted(this.at(key), fallback);
    const value = this.raw[key] ?? fallback;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length === 0)) {
      throw new ConfigError(this.at(key), value === undefined ? 'is required (a list of strings)' : 'must be a list of non-empty strings');
    }
    return value as string[];
  }

  list(key: string): unknown[] {
    const value = this.raw[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new ConfigError(this.at(key), 'must be a list');
    return value;
  }

  url(key: string, fallback?: string): string {
    const value = this.string(key, fallback);
    // A URL parser silently drops tabs and newlines; an issuer is signed as written, so refuse them.
    const unsafe = unsafeTextReason(value);
    if (unsafe) throw new ConfigError(this.at(key), `${unsafe}; write the URL without it`);
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(this.at(key), `must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(this.at(key), `must be an http(s) URL, got ${JSON.stringify(value)}`);
    }
    return value.replace(/\/+$/, '');
  }
}
