// Every metric that infra/prometheus/alerts.yml and infra/grafana/signet.json query is exposed by
// a real gateway's /metrics after ordinary traffic. An alert on a name Signet does not export
// never fires, and a dashboard panel on one stays empty, without any error. Likewise every label
// they match on or group by: a wrong label name empties a selector or merges groups silently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest, configFrom, openClient, requestToken, startGateway, tempDir, TEST_ADMIN_KEY, type RunningGateway } from './helpers/gateway.js';
import { alertRules, dashboardExprs, metricNames, selectorLabels } from './helpers/infra.js';
import { sha256Hex } from '../src/config/load.js';

// Series Prometheus makes itself for every target; no exporter serves them.
const SYNTHESIZED_BY_PROMETHEUS = new Set(['up']);
const SAMPLE_SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

/** Sample names the exposition declares (# TYPE), histograms and summaries with their series. */
function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    for (const suffix of SAMPLE_SUFFIXES[type!] ?? ['']) names.add(`${name}${suffix}`);
  }
  return names;
}

let gateway: RunningGateway;
let scrape: string;

beforeAll(async () => {
  gateway = await startGateway(
    configFrom({
      backends: { dev: { type: 'local', data_dir: tempDir() } },
      rings: [{ name: 'default', backend: 'dev', alg: 'ES256', create_if_missing: true }],
      clients: [openClient()],
      admin: { api_key_sha256: [sha256Hex(TEST_ADMIN_KEY)] },
    }),
  );
  for (let i = 0; i < 3; i++) expect((await requestToken(gateway.url, { audience: 'https://api.example.com' })).status).toBe(200);
  const jwks = await fetch(`${gateway.url}/.well-known/jwks.json`);
  expect(jwks.status).toBe(200);
  const etag = jwks.headers.get('etag')!;
  expect((await fetch(`${gateway.url}/.well-known/jwks.json`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  expect((await requestToken(gateway.url, { audience: 'x' }, 'sgt_not-a-client-key-0123456789')).status).toBe(401);
  expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  expect((await adminRequest(gateway.url, 'GET', '/rings')).status).toBe(200);
  const response = await fetch(`${gateway.url}/metrics`);
  expect(response.status).toBe(200);
  scrape = await response.text();
});

afterAll(async () => {
  await gateway?.close();
});

describe('metrics the alerts and the dashboard use', () => {
  it('the scrape reflects the traffic (a sanity check of the scrape itself)', () => {
    expect(scrape).toMatch(/^signet_tokens_issued_total\{ring="default",client="test-client"\} 3$/m);
    expect(scrape).toMatch(/^signet_jwks_requests_total\{status="304"\} 1$/m);
    expect(scrape).toMatch(/^signet_request_errors_total\{code="ERR_UNAUTHENTICATED"\} 1$/m);
  });

  it.each([
    ['infra/prometheus/alerts.yml', () => alertRules().flatMap((rule) => metricNames(rule.expr))],
    ['infra/grafana/signet.json', () => dashboardExprs().flatMap((expr) => metricNames(expr))],
  ])('every metric %s queries is on /metrics', (_file, names) => {
    const exposed = exposedNames(scrape);
    const used = [...new Set(names())].filter((name) => !SYNTHESIZED_BY_PROMETHEUS.has(name)).sort();
    expect(used.length).toBeGreaterThan(0);
    const missing = used.filter((name) => !exposed.has(name));
    expect(missing, `not exposed by /metrics: ${missing.join(', ')}`).toEqual([]);
  });

  it.each([
    ['infra/prometheus/alerts.yml', () => alertRules().map((rule) => rule.expr)],
    ['infra/grafana/signet.json', () => dashboardExprs()],
  ])('every label %s matches on is a label of that metric', async (_file, exprs) => {
    // The labels each metric declares, from the registry the scrape came from.
    const declared = new Map<string, Set<string>>();
    for (const metric of await gateway.app.signet.metrics.registry.getMetricsAsJSON()) {
      const labels = new Set<string>([...new Set((metric.values ?? []).flatMap((value) => Object.keys(value.labels ?? {})))]);
      declared.set(metric.name, labels);
    }
    for (const name of [...declared.keys()]) {
      const labels = (gateway.app.signet.metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
      for (const label of labels) declared.get(name)!.add(label);
    }
    const TARGET_LABELS = new Set(['job', 'instance']); // Prometheus adds them to every series
    const wrong: string[] = [];
    const labelsOf = (metric: string): Set<string> | undefined => declared.get(metric) ?? declared.get(metric.replace(/_(bucket|sum|count)$/, ''));
    for (const { metrics, labels } of exprs().flatMap(selectorLabels)) {
      const known = metrics.map(labelsOf).filter((set): set is Set<string> => set !== undefined);
      if (known.length === 0) continue; // a metric that is not there is the test above's failure
      for (const label of labels) {
        if (TARGET_LABELS.has(label) || (label === 'le' && metrics.some((metric) => metric.endsWith('_bucket')))) continue;
        if (!known.some((set) => set.has(label))) wrong.push(`${metrics.join('|')}{${label}}`);
      }
    }
    expect(wrong, `labels the metric does not have: ${wrong.join(', ')}`).toEqual([]);
  });
});
