/**
 * The operator's verbs on a real backfill (shared dev server, real worker and DuckDB): in-process
 * through client/operate.ts, and through the real `backfill` bin for exit codes and output.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../client/exit-codes';
import * as op from '../../client/operate';
import { resolveConnection } from '../../client/temporal';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';
import {
  failureTypeOf, lab, rangeFingerprint, testSpec, waitForStatus, type Env, type Lab,
} from '../support/backfill-harness';
import { ControlStore } from '../../warehouse/control-store';
import { startBackfill } from '../../client/start-backfill';
import { temporalTestEnv } from '../support/temporal';
import { exampleSpecFile } from '../support/scratch';
import { digested } from '../support/decide';
import * as m from '../../contracts/messages';

const BIN = join(__dirname, '..', '..', 'bin', 'backfill.cjs');
let env: Env;
let l: Lab;

beforeAll(async () => {
  env = await temporalTestEnv();
  l = await lab(env);
});
afterAll(async () => {
  await l?.stop();
  await env?.connection.close();
});

const cli = (...args: string[]) => cliWith({}, ...args);

async function cliWith(
  extraEnv: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [BIN, ...args, '--address', env.address, '--namespace', env.namespace],
      { env: { ...process.env, NO_COLOR: '1', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml', ...extraEnv } },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const failure = async (p: Promise<unknown>, code: string) => {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(isBackfillFailure(e), String(e)).toBe(true);
  expect((e as { code: string }).code).toBe(code);
  return (e as Error).message;
};

describe('operating a backfill', () => {
  it('pause, resume, watch to approval, list by state, refused and accepted approval, ' +
    'watch to publish, rollback', async () => {
    const spec = testSpec('operate', (s) => {
      s.source_range.end = '2025-01-28';
    });
    const handle = await l.start(spec);
    const id = spec.backfill_id;
    await op.pause(env.client, id, { by: 'oncall', reason: 'look first' });
    const paused = await waitForStatus(handle, (s) => s.state === 'paused');
    expect(paused.pause?.reason).toBe('look first');
    await op.resume(env.client, id, { by: 'oncall' });

    const lines: string[] = [];
    const waiting = await op.watch(env.client, id, {
      intervalMs: 100,
      onStatus: (s, rate) => lines.push(op.progressLine(s, rate)),
    });
    expect(waiting.state).toBe('awaiting_approval');
    expect(lines.at(-1)).toMatch(/^28\/28 partitions · batch (\d+)\/\1 · ([\d.]+\/s · )?awaiting_approval$/);
    expect(lines.every((x) => /^\d+\/\d+ partitions · batch \d+\/\d+ · /.test(x))).toBe(true);

    const listed = await op.list(env.client, { state: 'awaiting_approval' });
    expect(listed.find((r) => r.backfillId === id)).toMatchObject({
      state: 'awaiting_approval',
      target: spec.target.table,
      owner: spec.owner,
      status: 'RUNNING',
    });
    expect(await failure(op.list(env.client, { state: "x' OR '1'='1" }), BackfillError.InvalidRequest)).toContain(
      'not a backfill state',
    );

    expect(await failure(op.approve(env.client, id, { by: 'mallory' }), BackfillError.NotAllowed)).toContain(
      'not an approver',
    );
    const approval = await digested(handle, { by: 'finance-controller', comment: 'checked' });
    const ack = await op.approve(env.client, id, approval);
    expect(ack.message).toContain('approved by finance-controller');
    const published = await op.watch(env.client, id, { intervalMs: 100 });
    expect(published.state).toBe('published');

    // The report's data comes from the worker while the workflow runs.
    const data = await op.reportData(env.client, id);
    expect(data?.release?.releaseId).toBe(published.release?.releaseId);
    expect(data?.series.find((x) => x.column === 'net_revenue')?.points).toHaveLength(28);

    // Rollback is for approvers, the owner and rollback.operators: on-call is none of them here.
    expect(
      await failure(
        op.rollback(env.client, id, { by: 'oncall', reason: 'downstream mismatch' }),
        BackfillError.NotAllowed,
      ),
    ).toContain('rollback.operators');
    const rollback = await digested(handle, { by: 'finance-controller', reason: 'downstream mismatch' });
    await op.rollback(env.client, id, rollback);
    expect((await handle.result()).state).toBe('rolled_back');
    expect(await failure(op.signoff(env.client, id, { by: 'finance-controller' }), BackfillError.NotAllowed)).toContain(
      'ended',
    );
  });

  it('names an unknown backfill and what to do', async () => {
    expect(await failure(op.status(env.client, 'no-such-backfill'), BackfillError.UnknownBackfill)).toContain(
      'backfill list',
    );
  });
});

describe('the backfill bin', () => {
  it('watch exits 0 at approval; approve by a non-approver exits 4; list shows it; ' +
    'approve, then signoff after publish', async () => {
    const spec = testSpec('bin', (s) => {
      s.source_range.end = '2025-01-07';
    });
    const handle = await l.start(spec);
    const id = spec.backfill_id;
    const watched = await cli('watch', id, '--interval', '100');
    expect(watched.code, watched.stderr).toBe(ExitCode.ok);
    expect(watched.stdout).toContain(`${id}: awaiting_approval`);
    expect(watched.stdout).toContain('7/7 partitions');

    const listed = await cli('list', '--state', 'awaiting_approval');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toMatch(/^BACKFILL\s+STATE\s+TARGET\s+OWNER\s+WORKFLOW\s+STARTED$/m);
    // --json: versioned, snake_case like the spec, numbers without float noise.
    const json = JSON.parse((await cli('status', id, '--json')).stdout) as Record<string, any>;
    expect(json).toMatchObject({
      schema_version: 1, kind: 'status', backfill_id: id, state: 'awaiting_approval',
      partitions: { done: 7, total: 7 }, last_verdict: { rows_written: expect.any(Number) },
    });
    expect(JSON.stringify(json)).not.toMatch(/"[a-z]+[A-Z]\w*":/);
    const numbers = JSON.stringify(json).match(/-?\d+\.\d+(?:e-?\d+)?(?=[,}\]])/g) ?? [];
    expect(numbers.filter((n) => /\d{16,}/.test(n.replace(/[-.]/g, '')))).toEqual([]);
    const listJson = JSON.parse((await cli('list', '--state', 'awaiting_approval', '--json')).stdout) as {
      schema_version: number; items: Array<{ backfill_id: string }>;
    };
    expect(listJson.items.map((r) => r.backfill_id)).toContain(id);

    const digest = (await handle.query(m.statusQuery)).decisionDigest!;
    const refused = await cli('approve', id, '--by', 'finance-data', '--digest', digest);
    expect(refused.code).toBe(ExitCode.refused);
    expect(refused.stderr).toContain('BackfillNotAllowed');
    expect(refused.stderr).toContain('not an approver');

    const missingBy = await cli('approve', id);
    expect(missingBy.code).not.toBe(0);
    expect(missingBy.stderr).toContain('--by');

    expect((await cli('approve', id, '--by', 'finance-controller', '--comment', 'ok', '--digest', digest)).code)
      .toBe(ExitCode.ok);
    await waitForStatus(handle, (s) => s.state === 'published');
    const out = mkdtempSync(join(tmpdir(), 'backfill-report-'));
    const report = await cli('report', id, '--out', out);
    expect(report.code, report.stderr).toBe(ExitCode.ok);
    expect(report.stdout).toContain(`wrote ${join(out, `${id}.html`)}`);
    expect(readFileSync(join(out, `${id}.html`), 'utf8')).toContain('class="chart"');
    expect(readFileSync(join(out, `${id}.md`), 'utf8')).toContain('FIN-2841');

    const released = (await handle.query(m.statusQuery)).decisionDigest!;
    const signed = await cli('signoff', id, '--by', 'head-of-finance-data', '--digest', released.slice(0, 16));
    expect(signed.code, signed.stderr).toBe(ExitCode.ok);
    expect((await handle.result()).state).toBe('completed');
    const unknown = await cli('status', 'no-such-backfill');
    expect(unknown.code).toBe(ExitCode.badInput);
  });

  it('watch exits 5 when the backfill halts, and resolve abort ends it', async () => {
    // A range no earlier test in this file published (the lab's warehouse is shared).
    const spec = testSpec('bin-halt', (s) => {
      s.source_range.start = '2025-02-01';
      s.source_range.end = '2025-02-07';
      s.measures = s.measures.map((x) =>
        x.column === 'net_revenue' ? { ...x, expected_delta: { min: -0.1, max: 0.1 } } : x,
      );
    });
    const handle = await l.start(spec);
    const watched = await cli('watch', spec.backfill_id, '--interval', '100');
    expect(watched.code, watched.stdout + watched.stderr).toBe(ExitCode.stopped);
    expect(watched.stdout).toContain('halted');
    const noReason = await cli('resolve', spec.backfill_id, 'abort', '--by', 'oncall');
    expect(noReason.code).toBe(ExitCode.refused);
    expect((await cli('resolve', spec.backfill_id, 'abort', '--by', 'oncall', '--reason', 'spec was wrong')).code).toBe(
      ExitCode.ok,
    );
    await expect(handle.result()).rejects.toThrow();
  });
});

describe('cancel', () => {
  it('stops a paused run: production untouched, the lease released, who and why in the audit log', async () => {
    const spec = testSpec('cancel');
    const id = spec.backfill_id;
    const production = await rangeFingerprint(l.warehouse, spec, 'target');
    const handle = await l.start(spec);
    await op.pause(env.client, id, { by: 'oncall', reason: 'hold on' });
    await waitForStatus(handle, (s) => s.state === 'paused');
    const noReason = await cli('cancel', id, '--by', 'oncall');
    expect(noReason.code).toBe(ExitCode.badInput);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");

    const r = await cli('cancel', id, '--by', 'oncall', '--reason', 'wrong fix');
    expect(r.code, r.stderr).toBe(ExitCode.ok);
    expect(r.stdout).toContain(`${id}: cancelled by oncall: the run stops; production is untouched`);
    expect(await failureTypeOf(handle)).toBe(BackfillError.Aborted);
    const final = await op.status(env.client, id);
    expect(final.state).toBe('failed');
    expect(final.error).toBe('cancelled by oncall: wrong fix');
    expect(await rangeFingerprint(l.warehouse, spec, 'target')).toEqual(production);
    const leases = await l.warehouse.query(`SELECT backfill_id FROM backfill_control.leases`);
    expect(leases.map((x) => x.backfill_id)).not.toContain(id);
    const trail = await new ControlStore(l.warehouse).auditTrail(id);
    expect(trail.find((e) => e.action === 'cancel_requested')).toMatchObject({
      actor: 'oncall', detail: { reason: 'wrong fix', state: 'paused' },
    });
    // Ended: a second cancel is refused (exit 4), and so is one after publishing (unit-tested in the run).
    expect((await cli('cancel', id, '--by', 'oncall', '--reason', 'again')).code).toBe(ExitCode.refused);
  });
});

describe('start answers after the lease', () => {
  it('a second backfill on a leased target exits 4 naming the holder; a duplicate id is its own refusal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-lease-'));
    const specFile = (name: string) => {
      const id = `${name}-${process.pid}-${Date.now().toString(36)}`;
      return { id, file: exampleSpecFile(dir, name, id) };
    };
    const first = specFile('holder');
    const queue = { BACKFILL_TASK_QUEUE: l.taskQueue };
    const held = await cliWith(queue, 'start', first.file, '--by', 'vitest');
    try {
      expect(held.code, held.stderr).toBe(ExitCode.ok);
      const second = await cliWith(queue, 'start', specFile('second').file, '--by', 'vitest');
      expect(second.code, second.stderr).toBe(ExitCode.refused);
      expect(second.stderr).toContain('BackfillTargetLeased');
      expect(second.stderr).toContain(first.id);
      const again = await cliWith(queue, 'start', first.file, '--by', 'vitest');
      expect(again.code, again.stderr).toBe(ExitCode.refused);
      expect(again.stderr).toContain(`error (BackfillDuplicate): backfill ${first.id} already has a workflow`);
    } finally {
      await env.client.workflow.getHandle(`backfill-${first.id}`).terminate('test done').catch(() => undefined);
    }
  });
});

describe('no worker on the task queue', () => {
  it('start, status and watch say so at once and exit 3, naming npm run worker; start starts nothing', async () => {
    const queue = `nobody-${process.pid}-${Date.now().toString(36)}`;
    const dir = mkdtempSync(join(tmpdir(), 'backfill-noworker-'));
    const id = `no-worker-${process.pid}-${Date.now().toString(36)}`;
    const file = exampleSpecFile(dir, 'spec', id);
    const started = await cliWith({ BACKFILL_TASK_QUEUE: queue }, 'start', file, '--by', 'vitest');
    expect(started.code, started.stderr).toBe(ExitCode.unavailable);
    expect(started.stderr).toContain(`no worker is polling task queue "${queue}"`);
    expect(started.stderr).toContain('npm run worker');
    await expect(env.client.workflow.getHandle(`backfill-${id}`).describe()).rejects.toThrow(/not found/i);

    // A backfill whose queue nobody polls (its worker gone): status and watch do not hang on the query.
    const spec = testSpec('no-worker');
    const handle = await startBackfill(env.client, spec, { startedBy: 'vitest', taskQueue: queue });
    try {
      for (const verb of ['status', 'watch']) {
        const r = await cli(verb, spec.backfill_id);
        expect(r.code, `${verb}: ${r.stderr}`).toBe(ExitCode.unavailable);
        expect(r.stderr).toContain(`no worker is polling task queue "${queue}"`);
      }
    } finally {
      await handle.terminate('test done');
    }
  });
});

describe('connection settings', () => {
  it('reads a Temporal envconfig profile (address, namespace, API key → TLS); flags win over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-profile-'));
    const file = join(dir, 'temporal.toml');
    writeFileSync(
      file,
      '[profile.cloud]\naddress = "acme.a1b2c.tmprl.cloud:7233"\nnamespace = "acme.a1b2c"\napi_key = "secret-key"\n',
    );
    const cloud = resolveConnection({ profile: 'cloud' }, { TEMPORAL_CONFIG_FILE: file });
    expect(cloud.options).toMatchObject({ address: 'acme.a1b2c.tmprl.cloud:7233', apiKey: 'secret-key', tls: true });
    expect(cloud.namespace).toBe('acme.a1b2c');
    const flagged = resolveConnection(
      { profile: 'cloud', address: '127.0.0.1:7233', namespace: 'default' },
      { TEMPORAL_CONFIG_FILE: file },
    );
    expect(flagged.options.address).toBe('127.0.0.1:7233');
    expect(flagged.namespace).toBe('default');
    const plain = resolveConnection({}, { TEMPORAL_CONFIG_FILE: join(dir, 'missing.toml') });
    expect(plain.options.address).toBe('127.0.0.1:7233');
    expect(plain.namespace).toBe('default');
  });
});
