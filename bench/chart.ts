// A hand-written SVG grouped bar chart: tokens/s per scenario, one panel per concurrency, one bar
// per alg in each group, the value written on every bar.
import { isFailed, machineLine, runLine, type Machine, type Row, type Settings } from './report.js';

const WIDTH = 960;
const PANEL_HEIGHT = 250;
const LEFT = 70;
const RIGHT = 20;
const COLORS: Record<string, string> = { ES256: '#3b6fb6', RS256: '#e08a2c' };

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2 or 5 × 10^n, so that about five gridlines cover `max`. */
function niceStep(max: number): number {
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((step) => step >= raw) ?? raw;
}

function panel(rows: Row[], connections: number, top: number, algs: string[]): string[] {
  const panelRows = rows.filter((row) => row.group === 'tokens' && row.connections === connections);
  const ids = [...new Set(panelRows.map((row) => row.id))];
  const labels = new Map(panelRows.map((row) => [row.id, row.label]));
  const plotTop = top + 28;
  const plotHeight = PANEL_HEIGHT - 70;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const max = Math.max(1, ...panelRows.map((row) => row.result.rps));
  const step = niceStep(max);
  const yMax = Math.ceil(max / step) * step;
  const y = (value: number): number => plotTop + plotHeight - (value / yMax) * plotHeight;
  const out: string[] = [];
  out.push(`<text x="${LEFT}" y="${top + 14}" class="panel">${connections === 1 ? '1 connection' : `${connections} connections`}: tokens/s (higher is better)</text>`);
  for (let value = 0; value <= yMax + step / 2; value += step) {
    out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" class="grid"/>`);
    out.push(`<text x="${LEFT - 6}" y="${(y(value) + 4).toFixed(1)}" class="tick" text-anchor="end">${value.toLocaleString('en-US')}</text>`);
  }
  const groupWidth = plotWidth / Math.max(1, ids.length);
  const barWidth = Math.min(70, (groupWidth * 0.7) / algs.length);
  ids.forEach((id, g) => {
    const center = LEFT + groupWidth * (g + 0.5);
    algs.forEach((alg, a) => {
      const row = panelRows.find((r) => r.id === id && r.alg === alg);
      if (!row) return;
      const x = center - (barWidth * algs.length) / 2 + a * barWidth;
      const value = row.result.rps;
      const failed = isFailed(row);
      out.push(
        `<rect x="${(x + 2).toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(plotTop + plotHeight - y(value)).toFixed(1)}" fill="${COLORS[alg] ?? '#888'}"${failed ? ' stroke="#c00" stroke-width="3"' : ''}><title>${escape(`${row.label} ${alg} c${connections}: ${value.toFixed(0)} tokens/s, p50 ${row.result.p50Ms.toFixed(2)} ms`)}</title></rect>`,
      );
      out.push(`<text x="${(x + barWidth / 2).toFixed(1)}" y="${(y(value) - 4).toFixed(1)}" class="value" text-anchor="middle">${failed ? 'FAIL ' : ''}${Math.round(value).toLocaleString('en-US')}</text>`);
    });
    out.push(`<text x="${center.toFixed(1)}" y="${plotTop + plotHeight + 18}" class="label" text-anchor="middle">${escape(labels.get(id) ?? id)}</text>`);
  });
  out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${plotTop + plotHeight}" y2="${plotTop + plotHeight}" class="axis"/>`);
  return out;
}

export function barChart(machine: Machine, settings: Settings, rows: Row[]): string {
  const algs = [...new Set(rows.filter((row) => row.group === 'tokens').map((row) => row.alg!))];
  const concurrencies = [...settings.concurrencies].sort((a, b) => b - a);
  const height = 72 + concurrencies.length * PANEL_HEIGHT + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:18px;font-weight:bold}.sub{font-size:11px;fill:#444}.panel{font-size:14px;font-weight:bold}.tick{font-size:11px;fill:#555}.label{font-size:12px}.value{font-size:11px;font-weight:bold}.grid{stroke:#e3e3e3}.axis{stroke:#333}</style>',
    '<rect width="100%" height="100%" fill="#fff"/>',
    `<text x="${LEFT}" y="26" class="title">Signet: JWTs issued per second, ${escape(machine.date)}</text>`,
    `<text x="${LEFT}" y="44" class="sub">${escape(machineLine(machine))}</text>`,
    `<text x="${LEFT}" y="58" class="sub">${escape(runLine(settings))}</text>`,
  ];
  algs.forEach((alg, i) => {
    const x = WIDTH - RIGHT - 150 + i * 75;
    out.push(`<rect x="${x}" y="14" width="14" height="14" fill="${COLORS[alg] ?? '#888'}"/><text x="${x + 19}" y="26" class="label">${escape(alg)}</text>`);
  });
  concurrencies.forEach((connections, i) => out.push(...panel(rows, connections, 72 + i * PANEL_HEIGHT, algs)));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
