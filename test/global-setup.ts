// Starts the real backends once for the whole suite and stops them afterwards.
// A missing backend fails the run with install instructions; nothing is skipped.
import type { TestProject } from 'vitest/node';
import { startOpenBao } from './harness/openbao.js';
import { startMoto } from './harness/moto.js';
import { checkRedisServer } from './harness/redis.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  checkRedisServer();
  const [openbao, moto] = await Promise.all([startOpenBao(), startMoto()]);
  project.provide('openbaoUrl', openbao.url);
  project.provide('motoUrl', moto.url);
  return async () => {
    await Promise.all([openbao.stop(), moto.stop()]);
  };
}
