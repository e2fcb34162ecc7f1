// tsx runs TypeScript through esbuild with minifyWhitespace, so V8 reports every function of a
// src/*.ts file on line 1 at some column. This transforms the file again with tsx's options
// (target, esm, minifyWhitespace, keepNames, the project's compilerOptions) and follows the
// source map back to the original line. Each mapping is checked: the transformed code at V8's
// column must open a parameter list, or the position is reported unmapped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Transform = (code: string, options: Record<string, unknown>) => { code: string; map: string };

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes one VLQ segment of a source map's `mappings`. */
function decodeSegment(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    if (digit < 0) throw new Error(`bad VLQ character ${char}`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

/** Original 0-based line of generated (line 0, column), from the first line of `mappings`. */
function originalLineAt(mappings: string, column: number): number | undefined {
  const firstLine = mappings.split(';')[0] ?? '';
  let generatedColumn = 0;
  let sourceLine = 0;
  let found: number | undefined;
  for (const segment of firstLine.split(',')) {
    if (!segment) continue;
    const [columnDelta = 0, , lineDelta = 0] = decodeSegment(segment);
    generatedColumn += columnDelta;
    sourceLine += lineDelta;
    if (generatedColumn > column) break;
    found = sourceLine;
  }
  return found;
}

export class SourceLines {
  private readonly cache = new Map<string, { code: string; mappings: string } | null>();

  private constructor(
    private readonly root: string,
    private readonly transform: Transform | undefined,
    private readonly compilerOptions: unknown,
  ) {}

  /** esbuild is tsx's own dependency; without it, positions stay as V8 reported them. */
  static async create(root: string): Promise<SourceLines> {
    let transform: Transform | undefined;
    try {
      const esbuild = (await import('esbuild')) as unknown as { transformSync: Transform };
      transform = esbuild.transformSync;
    } catch {
      transform = undefined;
    }
    const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { compilerOptions?: unknown };
    return new SourceLines(root, transform, tsconfig.compilerOptions ?? {});
  }

  private transformed(path: string): { code: string; mappings: string } | null {
    if (!this.cache.has(path)) {
      let entry: { code: string; mappings: string } | null = null;
      try {
        const out = this.transform!(readFileSync(path, 'utf8'), {
          loader: 'ts',
          format: 'esm',
          target: `node${process.versions.node}`,
          sourcemap: true,
          minifyWhitespace: true,
          keepNames: true,
          sourcefile: path,
          tsconfigRaw: { compilerOptions: this.compilerOptions },
        });
        entry = { code: out.code, mappings: (JSON.parse(out.map) as { mappings: string }).mappings };
      } catch {
        entry = null;
      }
      this.cache.set(path, entry);
    }
    return this.cache.get(path)!;
  }

  /** 1-based original line for a function V8 placed at (0-based) line 0, `column` of `path`. */
  originalLine(path: string, lineNumber: number, column: number): number | undefined {
    if (!this.transform || lineNumber !== 0 || !path.startsWith(this.root) || !path.endsWith('.ts')) return undefined;
    const entry = this.transformed(path);
    if (!entry) return undefined;
    // V8 places a function at its parameter list: "(a,b)=>", "name(a)", a bare "a=>", "async a=>".
    if (!/^(async ?)?(\(|[\w$]+=>)/.test(entry.code.slice(column, column + 64))) return undefined;
    const line = originalLineAt(entry.mappings, column);
    return line === undefined ? undefined : line + 1;
  }
}
