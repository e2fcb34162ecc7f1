#!/usr/bin/env node
// Prints alerts.yml as a prometheus-operator PrometheusRule, so the alerts have one source:
//   node infra/prometheus/to-prometheusrule.mjs > infra/kubernetes/base/prometheusrule.yaml
// test/infra-prometheus.test.ts fails when the committed file differs from this output.
import { readFileSync } from 'node:fs';
import { stringify, parse } from 'yaml';

const alerts = parse(readFileSync(new URL('./alerts.yml', import.meta.url), 'utf8'));
const rule = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: { name: 'signet' },
  spec: { groups: alerts.groups },
};
process.stdout.write(
  '# Generated from infra/prometheus/alerts.yml by infra/prometheus/to-prometheusrule.mjs: edit that file, not this one.\n' +
    stringify(rule, { lineWidth: 0 }),
);
