// Summarises a V8 .cpuprofile (as written by node --cpu-prof): self time per function. The gateway
// runs compiled (dist/*.js, tsc keeps the sources' shape), so positions are read as they are.
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  functionName: string;
  /** Repository-relative path, node: builtin, or the V8 pseudo-frame's empty url. */
  location: string;
  selfMs: number;
  /** Of all sampled time, idle included. */
  percent: number;
  /** Of sampled time when the thread was not idle. */
  busyPercent: number;
}

function locate(frame: CallFrame, root: string): string {
  if (!frame.url) return '';
  let path = frame.url;
  let shown = path;
  if (path.startsWith('file://')) {
    path = fileURLToPath(path);
    const inRepo = relative(root, path);
    shown = inRepo.startsWith('..') ? path : inRepo;
  }
  return `${shown}:${frame.lineNumber + 1}`; // V8 positions are 0-based
}

/** Self time per function (same name and source position), largest first. */
export function selfTimes(profile: CpuProfile, root: string): { rows: SelfTimeRow[]; totalMs: number; idleMs: number; samples: number } {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFunction = new Map<string, { frame: CallFrame; micros: number }>();
  let total = 0;
  let idle = 0;
  // A sample lasts until the next one (DevTools' convention); the last has no end and counts 0.
  for (let i = 0; i < profile.samples.length; i++) {
    const micros = profile.timeDeltas[i + 1] ?? 0;
    const frame = frames.get(profile.samples[i]!);
    if (!frame) continue;
    total += micros;
    if (frame.functionName === '(idle)') idle += micros;
    const key = `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`;
    const entry = byFunction.get(key) ?? { frame, micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
  }
  const busy = total - idle;
  const rows = [...byFunction.values()]
    .sort((a, b) => b.micros - a.micros)
    .map(({ frame, micros }) => ({
      functionName: frame.functionName || '(anonymous)',
      location: locate(frame, root),
      selfMs: micros / 1000,
      percent: total ? (100 * micros) / total : 0,
      busyPercent: busy && frame.functionName !== '(idle)' ? (100 * micros) / busy : 0,
    }));
  return { rows, totalMs: total / 1000, idleMs: idle / 1000, samples: profile.samples.length };
}

export function selfTimeTable(rows: SelfTimeRow[], top: number): string {
  const escape = (text: string): string => text.replace(/\|/g, '\\|');
  const lines = ['| # | function | url:line | self ms | self % | % of busy |', '|--:|---|---|--:|--:|--:|'];
  rows.slice(0, top).forEach((row, index) => {
    lines.push(
      `| ${index + 1} | \`${escape(row.functionName)}\` | ${row.location ? `\`${escape(row.location)}\`` : '–'} | ${row.selfMs.toFixed(0)} | ${row.percent.toFixed(1)} | ${row.functionName === '(idle)' ? '–' : row.busyPercent.toFixed(1)} |`,
    );
  });
  return lines.join('\n');
}
