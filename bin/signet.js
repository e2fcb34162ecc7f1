#!/usr/bin/env node
// The `signet` command: the compiled CLI when `npm run build` has produced one (production),
// otherwise the TypeScript sources through tsx's loader (development, no build step).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
