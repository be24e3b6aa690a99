/**
 * The backfill metrics registry renders valid exposition text (format 0.0.4) and the activities
 * feed it: pauses counted once from the audit entries the workflow writes.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { loadSpecFile } from '../../client/load-spec';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { BATCH_SECONDS_BUCKETS, escapeLabelValue, formatSampleValue, Metrics } from '../../worker/metrics';
import { parseExposition } from './exposition';

/** Activity log lines are asserted in logging.test.ts; here they would only be noise. */
const quiet = { logger: new DefaultLogger('WARN') };

const FAMILIES = {
  backfill_partitions_rewritten_total: 'counter',
  backfill_rows_written_total: 'counter',
  backfill_bytes_scanned_total: 'counter',
  backfill_validation_failures_total: 'counter',
  backfill_pauses_total: 'counter',
  backfill_batches_total: 'counter',
  backfill_batch_seconds: 'histogram',
};

describe('Metrics: the registry', () => {
  it('declares every family with HELP and TYPE before anything is counted', () => {
    const text = new Metrics().render();
    const parsed = parseExposition(text);
    expect(Object.fromEntries(parsed.types)).toEqual(FAMILIES);
    expect([...parsed.help.keys()].sort()).toEqual(Object.keys(FAMILIES).sort());
    expect(parsed.samples).toEqual([]);
  });

  it('counts per backfill and renders counters, labels and a cumulative histogram', () => {
    const m = new Metrics();
    m.partitionRewritten('fix-a', 10, 1000.3);
    m.partitionRewritten('fix-a', 5, 1000.3);
    m.partitionRewritten('fix-b', 0, null);
    m.batchFinished('fix-a', 'passed', 0.07);
    m.batchFinished('fix-a', 'passed', 3);
    m.batchFinished('fix-a', 'failed', 7200);
    m.batchAccepted('fix-a');
    m.validationFailed('fix-a');
    m.paused('fix-a', 'operator');
    m.paused('fix-a', 'pause_window');
    m.paused('fix-a', 'operator');
    const p = parseExposition(m.render());

    expect(p.value('backfill_partitions_rewritten_total', { backfill_id: 'fix-a' })).toBe(2);
    expect(p.value('backfill_partitions_rewritten_total', { backfill_id: 'fix-b' })).toBe(1);
    expect(p.value('backfill_rows_written_total', { backfill_id: 'fix-a' })).toBe(15);
    // Summed exactly (2000.6), shown in whole bytes.
    expect(p.value('backfill_bytes_scanned_total', { backfill_id: 'fix-a' })).toBe(2001);
    // No estimate, no bytes series: an absent series is not a zero estimate.
    expect(p.value('backfill_bytes_scanned_total', { backfill_id: 'fix-b' })).toBeUndefined();
    expect(p.value('backfill_validation_failures_total', { backfill_id: 'fix-a' })).toBe(1);
    expect(p.value('backfill_pauses_total', { backfill_id: 'fix-a', kind: 'operator' })).toBe(2);
    expect(p.value('backfill_pauses_total', { backfill_id: 'fix-a', kind: 'pause_window' })).toBe(1);
    expect(p.value('backfill_batches_total', { backfill_id: 'fix-a', verdict: 'passed' })).toBe(2);
    expect(p.value('backfill_batches_total', { backfill_id: 'fix-a', verdict: 'failed' })).toBe(1);
    expect(p.value('backfill_batches_total', { backfill_id: 'fix-a', verdict: 'accepted' })).toBe(1);

    const bucket = (le: string) => p.value('backfill_batch_seconds_bucket', { backfill_id: 'fix-a', le });
    expect(bucket('0.05')).toBe(0);
    expect(bucket('0.1')).toBe(1);
    expect(bucket('2.5')).toBe(1);
    expect(bucket('5')).toBe(2);
    expect(bucket('3600')).toBe(2); // 7200 s is above every finite bucket…
    expect(bucket('+Inf')).toBe(3); // …and in +Inf, which equals the count
    expect(p.value('backfill_batch_seconds_count', { backfill_id: 'fix-a' })).toBe(3);
    expect(p.value('backfill_batch_seconds_sum', { backfill_id: 'fix-a' })).toBeCloseTo(7203.07, 9);
    const les = p.samples.filter((s) => s.name === 'backfill_batch_seconds_bucket').map((s) => s.labels.le);
    expect(les).toEqual([...BATCH_SECONDS_BUCKETS.map(String), '+Inf']);
  });

  it('writes exactly the expected lines, in a stable order', () => {
    const m = new Metrics();
    m.paused('b-2', 'scan_budget');
    m.paused('a-1', 'live_pipeline');
    m.paused('a-1', 'operator');
    const lines = m.render().split('\n');
    expect(lines.filter((l) => l.startsWith('backfill_pauses_total'))).toEqual([
      'backfill_pauses_total{backfill_id="a-1",kind="live_pipeline"} 1',
      'backfill_pauses_total{backfill_id="a-1",kind="operator"} 1',
      'backfill_pauses_total{backfill_id="b-2",kind="scan_budget"} 1',
    ]);
    expect(lines).toContain('# TYPE backfill_pauses_total counter');
    expect(m.render()).toBe(m.render());
  });

  it('escapes backslash, double quote and newline in label values, and reads back the original', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const m = new Metrics();
    const nasty = 'kind "x"\\y\nz} 1\n# TYPE';
    m.paused('fix-a', nasty);
    const text = m.render();
    expect(text).toContain('backfill_pauses_total{backfill_id="fix-a",kind="kind \\"x\\"\\\\y\\nz} 1\\n# TYPE"} 1\n');
    expect(parseExposition(text).value('backfill_pauses_total', { backfill_id: 'fix-a', kind: nasty })).toBe(1);
  });

  it('formats special values the way Prometheus reads them, and never lets a counter go down', () => {
    expect([Infinity, -Infinity, NaN, 0.25, 1e21, 3].map(formatSampleValue)).toEqual([
      '+Inf', '-Inf', 'NaN', '0.25', '1e+21', '3',
    ]);
    const m = new Metrics();
    m.partitionRewritten('fix-a', 10, null);
    m.partitionRewritten('fix-a', -4, NaN);
    const p = parseExposition(m.render());
    expect(p.value('backfill_rows_written_total', { backfill_id: 'fix-a' })).toBe(10);
    expect(p.value('backfill_bytes_scanned_total', { backfill_id: 'fix-a' })).toBeUndefined();
  });
});

describe('Metrics: what the activities count', () => {
  let db: DuckDbDriver;
  beforeAll(async () => {
    db = await openDuckDb({ path: ':memory:' });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('counts a pause per audited pause: operator pauses once (paused, not the gate\'s yielding), ' +
    'other kinds from yielding', async () => {
    const metrics = new Metrics();
    const { recordAudit } = createActivities({ warehouse: db, metrics });
    const spec = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
    // Each call is its own activity, as in a worker: the audit log keys retries on the activity's identity.
    let n = 0;
    const audit = (actor: string, action: string, detail: Record<string, unknown>) =>
      new MockActivityEnvironment({ activityId: `audit-${++n}` }, quiet).run(recordAudit, spec, actor, action, detail);
    await audit('oncall', 'paused', { reason: 'maintenance' });
    await audit('oncall', 'yielding', { kind: 'operator', reason: 'maintenance' });
    await audit('workflow', 'yielding', { kind: 'pause_window', reason: 'inside 01:00–02:00' });
    await audit('workflow', 'yielding', { kind: 'scan_budget', reason: 'spent' });
    await audit('workflow', 'yield_ended', { kind: 'scan_budget' });
    await audit('oncall', 'resumed', { reason: null });
    const p = parseExposition(metrics.render());
    const pauses = p.samples.filter((s) => s.name === 'backfill_pauses_total');
    expect(pauses.map((s) => [s.labels.kind, s.value])).toEqual([
      ['operator', 1],
      ['pause_window', 1],
      ['scan_budget', 1],
    ]);
    expect(pauses.every((s) => s.labels.backfill_id === spec.backfill_id)).toBe(true);
  });

  it('counts nothing, and fails nothing, without a registry', async () => {
    const { recordAudit } = createActivities({ warehouse: db });
    const spec = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
    const env = new MockActivityEnvironment(undefined, quiet);
    const run = env.run(recordAudit, spec, 'oncall', 'paused', { reason: 'x' });
    await expect(run).resolves.toBeUndefined();
  });
});
