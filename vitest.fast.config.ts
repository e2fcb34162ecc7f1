// The inner loop (`npm run test:fast`): every test file that needs no server (OpenBao, moto, Redis)
// and spawns no gateway process: pure units, and gateways run in-process on the local backend.
// Chosen by what each file uses, so a new test lands on the right side by itself; a misfiled one
// fails loudly (inject() is empty here). `npm test` always runs everything.
import { readdirSync, readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

const NEEDS_SERVERS = /(?<![.\w])inject\(|harness\/(openbao|moto|kms|gateway-process)|\bstartServer\b|\bCACHE_DIR\b|\bpythonTool\(|startPrivateRedis|trafficFixture|vaultRing\(|\bspawn(Sync)?\(/;

const fast = readdirSync('test')
  .filter((name) => name.endsWith('.test.ts'))
  .filter((name) => !NEEDS_SERVERS.test(readFileSync(`test/${name}`, 'utf8')))
  .map((name) => `test/${name}`);

// Replaced, not merged: vitest's mergeConfig would append to include and keep the global setup
// that starts OpenBao and moto.
// Files share their worker's module cache (isolate: false), importing the app once per worker
// instead of once per file, and both cores run files (vitest's default leaves one idle): about
// 16 s instead of 32. `npm test` isolates every file. Tools are fine here (promtool, kubectl);
// servers and the Python tools the install script puts in CACHE_DIR are not.
export default defineConfig({ test: { ...base.test, include: fast, globalSetup: [], isolate: false, maxWorkers: 2 } });
