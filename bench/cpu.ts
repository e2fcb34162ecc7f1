// CPU time per request, per process, over the measured window only: on a 2-core machine the
// load generator, the gateway and OpenBao share the cores, so req/s alone cannot say who paid.
import { readFileSync } from 'node:fs';

const TICK_US = 10_000; // USER_HZ = 100 on Linux

function processTicks(pid: number): number {
  // Fields after the ")" of comm: utime is the 12th, stime the 13th (1-based from state).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export type CpuPerRequest = Record<string, number>;

/** Samples each named pid (and this process, the load generator) around a window. */
export class CpuProbe {
  private startTicks = new Map<string, number>();
  private startSelf = process.cpuUsage();

  constructor(private readonly pids: Record<string, number>) {}

  start(): void {
    this.startTicks = new Map(Object.entries(this.pids).map(([name, pid]) => [name, processTicks(pid)]));
    this.startSelf = process.cpuUsage();
  }

  /** µs of CPU per request for each process during the window. */
  stop(requests: number): CpuPerRequest {
    const perRequest: CpuPerRequest = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      perRequest[name] = ((processTicks(pid) - this.startTicks.get(name)!) * TICK_US) / Math.max(1, requests);
    }
    const self = process.cpuUsage(this.startSelf);
    perRequest['load generator'] = (self.user + self.system) / Math.max(1, requests);
    return perRequest;
  }
}
