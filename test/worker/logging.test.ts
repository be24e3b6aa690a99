/**
 * Structured logs: the JSON line format (pino), the activity interceptor that adds backfill_id, and a real
 * worker on the shared dev server whose every activity and workflow line carries the backfill_id.
 * This file installs the Runtime's logger itself (capturing, not printing), before the harness
 * would install its quiet one: the Runtime logger can be installed once per process.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, type LogLevel } from '@temporalio/common';
import { Runtime, LogTimestamp } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { loadSpecFile } from '../../client/load-spec';
import { workflowIdFor } from '../../contracts/settings';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { backfillIdOf, backfillLogAttributes, createJsonLogger } from '../../worker/logging';
import type * as Harness from '../support/backfill-harness';

type Line = Record<string, unknown> & { ts: string; level: string; msg: string; backfill_id?: string };

/** A pino destination that keeps each write (one line, newline-terminated) without its newline. */
const into = (lines: string[]) => ({
  write(chunk: string) {
    expect(chunk.indexOf('\n')).toBe(chunk.length - 1);
    lines.push(chunk.slice(0, -1));
  },
});

const runtimeLines: string[] = [];
let harness: typeof Harness;

beforeAll(async () => {
  Runtime.install({ logger: createJsonLogger({ level: 'DEBUG', destination: into(runtimeLines) }) });
  harness = await import('../support/backfill-harness');
});

/** The line the worker's logger writes for one SDK log call, at a fixed time (as Core's lines carry one). */
const lineOf = (message: string, meta?: Record<string, unknown>, level: LogLevel = 'INFO'): Line => {
  const lines: string[] = [];
  createJsonLogger({ level: 'TRACE', destination: into(lines) })
    .log(level, message, { ...meta, [LogTimestamp]: 1_767_225_600_123_456_789n });
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Line;
};

describe('the JSON line', () => {
  it('has ts (the entry\'s time), level, msg and backfill_id, then the SDK meta, on one line', () => {
    expect(lineOf('batch 1/9 passed', { backfill_id: 'fix-a', sdkComponent: 'activity', batch: 1, multi: 'a\nb' }))
      .toStrictEqual({
        ts: '2026-01-01T00:00:00.123Z',
        level: 'INFO',
        msg: 'batch 1/9 passed',
        backfill_id: 'fix-a',
        sdkComponent: 'activity',
        batch: 1,
        multi: 'a\nb',
      });
    expect(lineOf('loud', {}, 'WARN').level).toBe('WARN');
    // No printf-style interpolation of the message.
    expect(lineOf('100%s done %d').msg).toBe('100%s done %d');
  });

  it('derives backfill_id from a backfill workflow ID, and leaves lines about no backfill without one', () => {
    expect(lineOf('Workflow started', { workflowId: workflowIdFor('fix-b'), runId: 'r' }).backfill_id).toBe('fix-b');
    expect(backfillIdOf({ workflowId: 'dailyRevenuePipeline-run' })).toBeUndefined();
    expect(backfillIdOf({ workflowId: workflowIdFor('') })).toBeUndefined();
    expect(lineOf('Worker state changed', { state: 'RUNNING' })).not.toHaveProperty('backfill_id');
    // The activity's own attribute wins over the workflow ID.
    expect(backfillIdOf({ backfill_id: 'fix-c', workflowId: workflowIdFor('other') })).toBe('fix-c');
  });

  it('keeps errors (with their failure type), bigints and circular meta readable, drops the task token, ' +
    'and never lets meta overwrite the line fields', () => {
    const failure = ApplicationFailure.create({
      type: 'BackfillWarehouseTransient',
      message: 'lock wait',
      cause: new Error('deadlock'),
    });
    const circular: Record<string, unknown> = { name: 'c' };
    circular.self = circular;
    const line = lineOf('Activity failed', {
      error: failure, rows: 12n, taskToken: 'Q2hJY...', msg: 'spoofed', level: 'DEBUG', ts: 'then', circular,
    }, 'WARN') as Line & { error: { stack: string } };
    expect(line).toMatchObject({
      ts: '2026-01-01T00:00:00.123Z',
      level: 'WARN',
      msg: 'Activity failed',
      rows: 12,
      error: {
        name: 'ApplicationFailure',
        message: 'lock wait',
        type: 'BackfillWarehouseTransient',
        cause: { name: 'Error', message: 'deadlock' },
      },
      circular: { name: 'c', self: '[Circular]' },
    });
    expect(line.error.stack).toContain('lock wait');
    expect(line).not.toHaveProperty('taskToken');
  });

  it('filters below the level and writes one line per entry', () => {
    const out: string[] = [];
    const logger = createJsonLogger({ level: 'WARN', destination: into(out) });
    logger.info('quiet');
    logger.debug('quieter');
    logger.warn('loud', { backfill_id: 'fix-a' });
    logger.error('louder');
    expect(out.map((l) => JSON.parse(l).msg)).toEqual(['loud', 'louder']);
  });
});

describe('backfillLogAttributes: the activity interceptor', () => {
  it('puts the spec\'s backfill_id on the lines an activity logs, where the workflow ID cannot tell', async () => {
    const lines: string[] = [];
    const db = await openDuckDb({ path: ':memory:' });
    try {
      const spec = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
      // The mock's workflow ID is "test", so backfill_id can only come from the interceptor.
      const env = new MockActivityEnvironment(undefined, {
        logger: createJsonLogger({ level: 'DEBUG', destination: into(lines) }),
        interceptors: [backfillLogAttributes],
      });
      await env.run(createActivities({ warehouse: db }).recordAudit, spec, 'oncall', 'paused', {
        reason: 'maintenance',
      });
      const parsed = lines.map((l) => JSON.parse(l) as Line);
      const own = parsed.find((l) => l.msg === 'audit: paused by oncall');
      expect(own).toMatchObject({
        backfill_id: spec.backfill_id,
        sdkComponent: 'activity',
        action: 'paused',
        actor: 'oncall',
      });
      expect(parsed.find((l) => l.msg === 'Activity completed')?.backfill_id).toBe(spec.backfill_id);
      // Logged by the SDK before any interceptor runs: in a worker the workflow ID supplies it.
      expect(parsed.find((l) => l.msg === 'Activity started')?.backfill_id).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it('adds nothing when the first argument is not a spec', async () => {
    const lines: string[] = [];
    const env = new MockActivityEnvironment(undefined, {
      logger: createJsonLogger({ level: 'DEBUG', destination: into(lines) }),
      interceptors: [backfillLogAttributes],
    });
    await env.run(async (query: string) => {
      (await import('@temporalio/activity')).log.info(`counting ${query}`);
    }, "WorkflowType = 'x'");
    expect(lines.map((l) => JSON.parse(l) as Line).every((l) => l.backfill_id === undefined)).toBe(true);
  });
});

describe('a real worker logs JSON lines with the backfill_id', () => {
  let lab: Harness.Lab;
  let env: Harness.Env;
  afterAll(async () => {
    await lab?.stop();
    await env?.connection.close();
  });

  it('on every activity and workflow line of a run to awaiting_approval, with one line per batch ' +
    'and per lifecycle step', async () => {
    env = await (await import('../support/temporal')).temporalTestEnv();
    lab = await harness.lab(env);
    const spec = harness.testSpec('logging', (s) => {
      s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-10' };
    });
    const handle = await lab.start(spec);
    const waiting = await harness.waitForStatus(handle, (s) => s.state === 'awaiting_approval');
    await handle.terminate('test over');

    const lines = runtimeLines.map((l) => JSON.parse(l) as Line);
    expect(
      lines.every((l) => typeof l.ts === 'string' && typeof l.level === 'string' && typeof l.msg === 'string'),
    ).toBe(true);
    const ours = lines.filter((l) => l.workflowId === handle.workflowId);
    const activityLines = ours.filter((l) => l.activityId !== undefined);
    const workflowLines = ours.filter((l) => l.activityId === undefined);
    expect(activityLines.length).toBeGreaterThan(20);
    expect(workflowLines.some((l) => l.msg === 'Workflow started')).toBe(true);
    const without = ours.filter((l) => l.backfill_id !== spec.backfill_id);
    expect(without, `lines without backfill_id ${spec.backfill_id}`).toEqual([]);

    const batchLines = ours.filter((l) => l.activityType === 'checkpointBatch' && /^batch \d+\/\d+ /.test(l.msg));
    expect(batchLines).toHaveLength(waiting.batches.total);
    for (const l of batchLines) {
      expect(l).toMatchObject({
        level: 'INFO',
        verdict: 'passed',
        batches: waiting.batches.total,
        partitions: expect.any(Number),
        rows: expect.any(Number),
        seconds: expect.any(Number),
        mode: expect.stringMatching(/^(range|partition)$/),
      });
    }
    expect(batchLines.reduce((a, l) => a + (l.partitions as number), 0)).toBe(10);

    const lifecycle = [
      'planBackfill', 'acquireLease', 'resumePoint', 'takeSnapshot', 'prepareShadow', 'proveIdempotency',
      'verifyCompletion',
    ];
    const logged = new Set(ours.filter((l) => l.sdkComponent === 'activity').map((l) => l.activityType));
    expect(lifecycle.filter((a) => !logged.has(a)), 'lifecycle activities without a line of their own').toEqual([]);
  });
});
