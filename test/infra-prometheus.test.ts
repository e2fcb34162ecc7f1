// infra/prometheus, infra/grafana and docs/runbook.md: the alert rules pass promtool's checks and
// unit tests, agree with the code's error codes, have one runbook section each and one source for
// the PrometheusRule; the dashboard's queries all parse.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import * as errors from '../src/errors.js';
import { tempDir } from './helpers/gateway.js';
import { ALERTS, alertRules, DASHBOARD, dashboardExprs, metricNames, ROOT, run, tool } from './helpers/infra.js';

const ALERT_TESTS = join(ROOT, 'infra', 'prometheus', 'alerts.test.yml');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

describe('Prometheus alert rules (infra/prometheus/alerts.yml)', () => {
  it('pass promtool check rules', () => {
    const result = run(tool('promtool'), ['check', 'rules', ALERTS]);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status).toBe(0);
  });

  it('pass their unit tests (promtool test rules alerts.test.yml), which fire and silence every alert', () => {
    const result = run(tool('promtool'), ['test', 'rules', ALERT_TESTS]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
    const cases = (parse(readFileSync(ALERT_TESTS, 'utf8')).tests as any[]).flatMap((t) => t.alert_rule_test as Array<{ alertname: string; exp_alerts: unknown[] }>);
    for (const { alert } of alertRules()) {
      expect(cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0), `${alert} has a case where it fires`).toBe(true);
      expect(cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0), `${alert} has a case where it stays quiet`).toBe(true);
    }
  });

  it('each alert has a severity, a summary, a description and a runbook section; each runbook section has an alert', () => {
    const runbook = readFileSync(join(ROOT, 'docs', 'runbook.md'), 'utf8');
    const sections = [...runbook.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
    const names = alertRules().map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of alertRules()) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toEqual(expect.any(String));
      expect(rule.annotations.description, rule.alert).toEqual(expect.any(String));
      expect(rule.annotations.runbook_url).toBe(`docs/runbook.md#${anchor(rule.alert)}`);
    }
    expect(sections.sort()).toEqual([...names].sort());
  });

  it('the 5xx ratio counts every 5xx by HTTP status, so no error code can be left out of it', () => {
    const rule = alertRules().find((r) => r.alert === 'SignetHighErrorRatio')!;
    expect(rule.expr.replace(/\s+/g, ' ')).toContain('sum by (job) (rate(http_server_request_duration_seconds_count{status_code=~"5.."}[5m])) / sum by (job) (rate(http_server_request_duration_seconds_count[5m]))');
    // Every typed 5xx error really answers with its 5xx status (src/errors.ts → the error handler).
    for (const exported of Object.values(errors)) {
      if (typeof exported !== 'function' || !(exported === errors.GatewayError || exported.prototype instanceof errors.GatewayError)) continue;
      const error = new (exported as new (message: string) => errors.GatewayError)('probe');
      if (error.code.startsWith('ERR_')) expect(error.status, error.code).toBeGreaterThanOrEqual(400);
    }
  });

  it('infra/kubernetes/base/prometheusrule.yaml is generated from alerts.yml, unchanged', () => {
    const generated = execFileSync('node', [join(ROOT, 'infra', 'prometheus', 'to-prometheusrule.mjs')], { encoding: 'utf8' });
    const committed = readFileSync(join(ROOT, 'infra', 'kubernetes', 'base', 'prometheusrule.yaml'), 'utf8');
    expect(committed, 'regenerate: node infra/prometheus/to-prometheusrule.mjs > infra/kubernetes/base/prometheusrule.yaml').toBe(generated);
    expect(parse(committed).spec.groups).toEqual(parse(readFileSync(ALERTS, 'utf8')).groups);
  });

  it("docker-compose's Prometheus config passes promtool check config with these rules", () => {
    const dir = tempDir();
    const config = parse(readFileSync(join(ROOT, 'infra', 'compose', 'prometheus.yml'), 'utf8'));
    expect(config.rule_files).toEqual(['/etc/prometheus/alerts.yml']); // where docker-compose.yml mounts alerts.yml
    config.rule_files = [ALERTS];
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    const result = run(tool('promtool'), ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(result.output).toMatch(/SUCCESS: 1 rule files found/);
    expect(result.status).toBe(0);
    expect(config.scrape_configs.map((s: any) => s.job_name)).toEqual(['signet']);
  });
});

describe('Grafana dashboard (infra/grafana/signet.json)', () => {
  it('is a dashboard whose panels each query Prometheus through the datasource variable, laid out without overlap', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    expect(dashboard).toMatchObject({ uid: 'signet', title: 'Signet', schemaVersion: expect.any(Number) });
    const variables = (dashboard.templating.list as any[]).map((v) => v.name);
    expect(variables).toEqual(['datasource', 'job', 'instance']);
    const ids = (dashboard.panels as any[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const occupied = new Set<string>();
    for (const panel of dashboard.panels as any[]) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(occupied.has(`${i},${j}`), `${panel.title} overlaps another panel`).toBe(false);
          occupied.add(`${i},${j}`);
        }
      }
      if (panel.type === 'row') continue;
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) {
        expect(target.expr, panel.title).toContain('job="$job"');
        for (const variable of target.expr.matchAll(/\$(\w+)/g)) expect(['job', 'instance', '__rate_interval'], `${panel.title}: $${variable[1]}`).toContain(variable[1]);
      }
    }
  });

  it('every panel query parses (promtool check rules on them as recording rules) and names at least one metric', () => {
    const exprs = dashboardExprs();
    const file = join(tempDir(), 'dashboard-rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `signet:dashboard_query:${i}`, expr })) }] }));
    const result = run(tool('promtool'), ['check', 'rules', file]);
    expect(result.output).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(result.status).toBe(0);
    for (const expr of exprs) expect(metricNames(expr).length, expr).toBeGreaterThan(0);
  });
});
