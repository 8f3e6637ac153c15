// The alert rules are valid Prometheus rules and behave as their promtool unit tests say.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../../ops/prometheus/', import.meta.url).pathname;

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', 'alerts.yml'], { cwd: dir, encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: 9 rules found/);
  });
  it('pass their promtool unit tests (fire on breach, silent when healthy)', () => {
    const out = execFileSync('promtool', ['test', 'rules', 'alerts.test.yml'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(out).toMatch(/SUCCESS/);
  });
  it('cover the alerts SPEC §7 names', async () => {
    const { readFile } = await import('node:fs/promises');
    const rules = await readFile(`${dir}/alerts.yml`, 'utf8');
    for (const name of [
      'ApiLatencyP95High',
      'DataFreshnessHigh',
      'DbReplicationLagHigh',
      'DlqRateHigh',
      'ConsumerKafkaLagHigh',
      'PairIncompleteRatioHigh',
      'DbPoolSaturated',
    ]) {
      expect(rules).toContain(`alert: ${name}`);
    }
    expect(rules).toMatch(/alert: DataFreshnessHigh[\s\S]*?severity: critical/);
    expect(rules).toMatch(/alert: DbReplicationLagHigh[\s\S]*?severity: critical/);
  });
});
