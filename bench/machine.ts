// What the numbers were measured on, for every report's caption.
import { cpus, release, totalmem, type as osType } from 'node:os';
import type { Machine } from './report.js';

export function machineInfo(openbao: string, when: Date): Machine {
  const cpu = cpus();
  return {
    date: when.toISOString().slice(0, 10),
    timestamp: when.toISOString(),
    cpuModel: cpu[0]?.model.trim() ?? 'unknown CPU',
    cpuCount: cpu.length,
    totalMemBytes: totalmem(),
    os: `${osType()} ${release()}`,
    node: process.version,
    openbao,
  };
}
