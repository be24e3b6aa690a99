/**
 * The backfill metrics registry (prom-client) renders valid exposition text (format 0.0.4) with the
 * documented families, labels and values beside the default process metrics, and the activities
 * feed it: pauses counted once from the audit entries the workflow writes.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { loadSpecFile } from '../../client/load-spec';
import { openDuckDb, type DuckDbDriver } from '../../warehouse/duckdb/driver';
import { BATCH_SECONDS_BUCKETS, Metrics } from '../../worker/metrics';
import { parseExposition, type Exposition } from './exposition';

/** Activity log lines are asserted in logging.test.ts; here they would only be noise. */
const quiet = { logger: new DefaultLogger('WARN') };

/** Every backfill family, its type and the labels its series carry (histogram buckets add `le`). */
const FAMILIES = {
  backfill_partitions_rewritten_total: ['counter', ['backfill_id']],
  backfill_rows_written_total: ['counter', ['backfill_id']],
  backfill_bytes_scanned_total: ['counter', ['backfill_id']],
  backfill_validation_failures_total: ['counter', ['backfill_id']],
  backfill_pauses_total: ['counter', ['backfill_id', 'kind']],
  backfill_batches_total: ['counter', ['backfill_id', 'verdict']],
  backfill_batch_seconds: ['histogram', ['backfill_id']],
} as const;

const scrape = async (m: Metrics) => parseExposition(await m.registry.metrics());
const backfillTypes = (p: Exposition) => Object.fromEntries([...p.types].filter(([n]) => n.startsWith('backfill_')));

describe('Metrics: the registry', () => {
  it('declares every backfill family with HELP and TYPE before anything is counted, ' +
    'beside the default process metrics', async () => {
    const m = new Metrics();
    expect(m.registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const p = await scrape(m);
    expect(backfillTypes(p)).toEqual(Object.fromEntries(Object.entries(FAMILIES).map(([n, [type]]) => [n, type])));
    for (const name of Object.keys(FAMILIES)) expect(p.help.get(name), name).toMatch(/^\S.{19,}$/);
    expect(p.samples.filter((s) => s.name.startsWith('backfill_'))).toEqual([]);
    // collectDefaultMetrics: the process and the Node.js runtime.
    expect(p.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(p.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(p.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
  });

  it('counts per backfill: counters with their labels and a cumulative histogram', async () => {
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
    const p = await scrape(m);

    expect(p.value('backfill_partitions_rewritten_total', { backfill_id: 'fix-a' })).toBe(2);
    expect(p.value('backfill_partitions_rewritten_total', { backfill_id: 'fix-b' })).toBe(1);
    expect(p.value('backfill_rows_written_total', { backfill_id: 'fix-a' })).toBe(15);
    expect(p.value('backfill_rows_written_total', { backfill_id: 'fix-b' })).toBe(0);
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
    expect(les.sort()).toEqual([...BATCH_SECONDS_BUCKETS.map(String), '+Inf'].sort());

    // Every series carries exactly its family's labels.
    for (const s of p.samples.filter((x) => x.name.startsWith('backfill_'))) {
      const family = s.name.replace(/_(bucket|sum|count)$/, '') as keyof typeof FAMILIES;
      const expected = [...FAMILIES[family][1], ...(s.name.endsWith('_bucket') ? ['le'] : [])];
      expect(Object.keys(s.labels).sort(), s.name).toEqual(expected.sort());
    }
  });

  it('keeps the bytes counter whole as fractional estimates add up', async () => {
    const m = new Metrics();
    for (let i = 0; i < 7; i++) m.partitionRewritten('fix-a', 1, 0.3);
    const p = await scrape(m);
    expect(p.value('backfill_bytes_scanned_total', { backfill_id: 'fix-a' })).toBe(2); // 2.1, not 0 (seven 0s)
  });

  it('gives each registry its own counts', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.paused('fix-a', 'operator');
    expect((await scrape(a)).value('backfill_pauses_total', { backfill_id: 'fix-a', kind: 'operator' })).toBe(1);
    expect((await scrape(b)).value('backfill_pauses_total', { backfill_id: 'fix-a', kind: 'operator' }))
      .toBeUndefined();
  });

  it('escapes backslash, double quote and newline in label values, and reads back the original', async () => {
    const m = new Metrics();
    const nasty = 'kind "x"\\y\nz} 1\n# TYPE';
    m.paused('fix-a', nasty);
    const text = await m.registry.metrics();
    // One line for the series: a raw newline would split it, and the strict reader would refuse the rest.
    expect(text.split('\n').filter((l) => l.startsWith('backfill_pauses_total{'))).toHaveLength(1);
    expect(parseExposition(text).value('backfill_pauses_total', { backfill_id: 'fix-a', kind: nasty })).toBe(1);
  });

  it('never lets a counter go down or a bad value in, and never throws into an activity', async () => {
    const m = new Metrics();
    m.partitionRewritten('fix-a', 10, null);
    expect(() => {
      m.partitionRewritten('fix-a', -4, NaN);
      m.partitionRewritten('fix-a', Infinity, -1);
      m.batchFinished('fix-a', 'passed', NaN);
    }).not.toThrow();
    const p = await scrape(m);
    expect(p.value('backfill_rows_written_total', { backfill_id: 'fix-a' })).toBe(10);
    expect(p.value('backfill_partitions_rewritten_total', { backfill_id: 'fix-a' })).toBe(3);
    expect(p.value('backfill_bytes_scanned_total', { backfill_id: 'fix-a' })).toBeUndefined();
    expect(p.value('backfill_batches_total', { backfill_id: 'fix-a', verdict: 'passed' })).toBe(1);
    expect(p.value('backfill_batch_seconds_count', { backfill_id: 'fix-a' })).toBeUndefined();
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
    const p = await scrape(metrics);
    const pauses = p.samples.filter((s) => s.name === 'backfill_pauses_total');
    expect(pauses.map((s) => [s.labels.kind, s.value]).sort()).toEqual([
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
