/**
 * The Grafana dashboard and the Prometheus rules speak only of metrics the services export
 * (names fixed in services/platform, plus prom-client's process_* and nodejs_* defaults), and
 * every exported family is on the dashboard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createMetrics } from '../services/platform/metrics.js';
import { observeConsumers } from '../services/platform/consumer-metrics.js';
import { observeStorage } from '../services/platform/store-metrics.js';
import { openSqliteMetadataStore } from '../services/store/embedded/sqlite-metadata-store.js';
import { manifestsDir } from './manifest-set.js';

/**
 * The registry a service exports: its own metrics, the storage families
 * start-service adds for its store and the consumer families egress adds (an embedded one here; the names are the same
 * for every backend and nothing is scraped, so the store is closed at once).
 */
async function serviceRegistry() {
  const { registry } = createMetrics();
  const dir = mkdtempSync(join(tmpdir(), 'mts-monitoring-'));
  const store = await openSqliteMetadataStore({ file: join(dir, 'metadata.sqlite') });
  observeStorage(store, registry);
  observeConsumers(store, registry, []);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return registry;
}

/** The services' own families (prom-client defaults aside) and their label names, from the registry itself. */
const exported: Record<string, string[]> = Object.fromEntries(
  (await serviceRegistry())
    .getMetricsAsArray()
    .filter((metric) => !/^(process|nodejs)_/.test(metric.name))
    // prom-client keeps the declared label names on the metric; its typings do not list them.
    .map((metric) => [metric.name, [...((metric as unknown as { labelNames: readonly string[] }).labelNames ?? [])]]),
);
const histogramSeries = /_(bucket|sum|count)$/;

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const rules = (
  parse(readFileSync(join(manifestsDir, 'monitoring/alert-rules.yaml'), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }
).groups;
const dashboard = JSON.parse(readFileSync(join(manifestsDir, 'monitoring/grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: Array<{ id: number; title: string; targets: Array<{ expr: string }> }>;
};
const dashboardExprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
const ruleExprs = rules.flatMap((group) => group.rules.map((rule) => rule.expr));

/** The metric names an expression mentions, histogram suffixes removed. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(grpc_server_\w+|minitoolstream_\w+|process_\w+|nodejs_\w+)\b/g)].map(([name]) => {
    const family = name!.replace(histogramSeries, '');
    return family in exported ? family : name!;
  });
}

function assertKnown(expr: string): void {
  for (const name of metricsIn(expr)) {
    const known = name in exported || /^(process|nodejs)_/.test(name);
    assert.ok(known, `${name} is not a metric the services export (in: ${expr})`);
  }
  for (const [, labels] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
    const families = metricsIn(expr).filter((name) => name in exported);
    for (const label of labels!
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== 'le')) {
      assert.ok(
        families.some((family) => exported[family]!.includes(label)),
        `label ${label} is not exported (in: ${expr})`,
      );
    }
  }
}

test('alert rules are well formed and use only exported metrics and labels', () => {
  const names = new Set<string>();
  assert.ok(rules.length > 0);
  for (const group of rules) {
    for (const rule of group.rules) {
      assert.ok(!names.has(rule.alert), `${rule.alert} twice`);
      names.add(rule.alert);
      assert.match(rule.for, /^\d+[smh]$/);
      assert.ok(['warning', 'critical'].includes(rule.labels.severity), rule.alert);
      assert.ok(rule.annotations.summary && rule.annotations.description, rule.alert);
      assert.equal(balance(rule.expr), 0, `${rule.alert}: unbalanced parentheses`);
      assertKnown(rule.expr);
    }
  }
});

test('the dashboard uses only exported metrics and shows every exported family', () => {
  const ids = dashboard.panels.map((panel) => panel.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const expr of dashboardExprs) {
    assert.equal(balance(expr), 0, `unbalanced parentheses: ${expr}`);
    assertKnown(expr);
  }
  const shown = new Set(dashboardExprs.flatMap(metricsIn));
  assert.deepEqual(
    Object.keys(exported).filter((family) => !shown.has(family)),
    [],
  );
  assert.ok([...shown].some((name) => name.startsWith('process_')) && [...shown].some((name) => name.startsWith('nodejs_')));
});

test('every exported family the services alert on is covered by some rule', () => {
  const alerted = new Set(ruleExprs.flatMap(metricsIn));
  for (const family of [
    'grpc_server_handled_total',
    'grpc_server_handling_seconds',
    'minitoolstream_ready',
    'minitoolstream_storage_seconds',
    'minitoolstream_store_memory_used_percent',
    'minitoolstream_consumer_skipped_messages_total',
  ]) {
    assert.ok(alerted.has(family), family);
  }
});

function balance(expr: string): number {
  let depth = 0;
  for (const char of expr) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (depth < 0) return depth;
  }
  return depth;
}
