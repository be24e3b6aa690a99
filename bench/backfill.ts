/**
 * What a safe backfill costs over the bare rewrite, printed as figures (never asserted in tests):
 *   npm run bench -- [--scale 1] [--keep] [--json]
 *
 * Seeds the FIN-2841 scenario in a DuckDB file, then measures on that one file
 *   - the floor: the whole range rewritten by one CREATE TABLE AS of the transform, and
 *   - the full backfill of examples/revenue-tax-fix.yaml on a real dev server, start → published,
 * and breaks the full run down by activity (from the workflow history) and by warehouse statement
 * (from the driver's statement events), which is what says where the difference goes.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadSpecFile } from '../client/load-spec';
import { startBackfill } from '../client/start-backfill';
import { approveUpdate, signoffSignal, statusQuery } from '../contracts/messages';
import type { BackfillState, BackfillStatus } from '../contracts/status';
import { seedRevenueScenario } from '../demo/revenue-scenario';
import type { BackfillSpec } from '../domain/spec/schema';
import { compileTransform } from '../domain/transform-sql';
import { openDuckDb, type DuckDbDriver } from '../warehouse/duckdb/driver';
import type { StatementEvent } from '../warehouse/warehouse';
import { tablesOf } from '../warehouse/shadow';
import { startDevServer } from '../scripts/dev-server';
import { createBackfillWorker } from '../worker/create-worker';
import type { backfillWorkflow } from '../workflows';

const SPEC_FILE = resolve(__dirname, '..', 'examples', 'revenue-tax-fix.yaml');
const APPROVER = 'finance-controller';
const FLOOR_TABLE = 'finance.bench_floor';
const FLOOR_RUNS = 2;
/** Status polls add up to this much to each measured step; small next to a batch. */
const POLL_MS = 25;

type Handle = WorkflowHandle<typeof backfillWorkflow>;

interface Options {
  scale: number;
  keep: boolean;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const scale = Number(values.scale);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(
      `--scale must be a positive number (the scenario is built for 1, 10 and 100), got "${values.scale}"`,
    );
  }
  return { scale, keep: values.keep, json: values.json };
}

const seconds = (ms: number) => ms / 1000;
const dayAfter = (day: string): string => {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
};

/**
 * The spec as a benchmark runs it: nothing may make it wait (no live-pipeline gating, pause
 * windows or scan budget), and a short rollback window, since signoff ends the run anyway.
 */
export function benchSpec(scale: number): BackfillSpec {
  const base = loadSpecFile(SPEC_FILE).spec;
  return {
    ...base,
    backfill_id: `bench-s${String(scale).replace(/\W/g, '_')}-${Date.now().toString(36)}`,
    execution: {
      ...base.execution,
      pause_during_live_pipeline: false,
      live_pipeline: undefined,
      pause_windows: [],
      daily_scan_budget: undefined,
    },
    rollback: { ...base.rollback, window: 60_000 },
  };
}

// ---- floor: one statement, no orchestration, no checks ----

async function rowsInRange(db: DuckDbDriver, spec: BackfillSpec): Promise<number> {
  const d = db.dialect;
  const key = d.quoteIdent(spec.target.partition_key);
  const grain = spec.source_range.grain;
  const [row] = await db.query({
    sql: `SELECT count(*) AS n FROM ${d.table(tablesOf(spec).target)} WHERE ${key} >= ${d.boundValue(1, grain)} AND ` +
      `${key} < ${d.boundValue(2, grain)}`,
    params: [spec.source_range.start, dayAfter(spec.source_range.end)],
  });
  return Number(row?.n ?? 0);
}

/** Each run creates and drops the table; the best run is the one on a warm cache. */
async function measureFloor(db: DuckDbDriver, spec: BackfillSpec): Promise<number[]> {
  const compiled = compileTransform(spec.transform!.sql, (i) => db.dialect.boundValue(i, spec.source_range.grain));
  const create = {
    sql: `CREATE TABLE ${FLOOR_TABLE} AS ${compiled.sql}`,
    params: [spec.source_range.start, dayAfter(spec.source_range.end)],
  };
  const runs: number[] = [];
  await db.execute(`DROP TABLE IF EXISTS ${FLOOR_TABLE}`);
  for (let i = 0; i < FLOOR_RUNS; i++) {
    const t0 = performance.now();
    await db.execute(create);
    runs.push(performance.now() - t0);
    await db.execute(`DROP TABLE ${FLOOR_TABLE}`);
  }
  return runs;
}

// ---- warehouse statements by phase, from the driver's statement events ----

interface Tally {
  count: number;
  ms: number;
}

/** A short name for what a statement does; the SQL shapes are the DuckDB dialect's and shadow.ts's. */
function statementKind(e: StatementEvent): string {
  const sql = e.sql.trimStart();
  if (/^(BEGIN|COMMIT|ROLLBACK)\b/i.test(sql)) return 'begin/commit';
  if (/^EXPLAIN/i.test(sql)) return 'explain analyze (sample)';
  if (/information_schema|duckdb_tables/i.test(sql)) return 'catalog lookup';
  if (/backfill_control/i.test(sql)) return 'control schema';
  if (/^DELETE FROM/i.test(sql)) return 'delete partition';
  if (/^INSERT INTO .* SELECT .* FROM \(/is.test(sql)) return 'insert from transform';
  if (/^SELECT count\(\*\) AS n FROM/i.test(sql)) return 'out-of-partition check';
  if (/"distinct_keys".*GROUP BY 1/is.test(sql)) return 'partition stats';
  if (/FULL OUTER JOIN/i.test(sql)) return 'changed rows';
  if (/"row_hash"/.test(sql)) return 'fingerprint';
  if (/"row_count" FROM .* GROUP BY 1/is.test(sql)) return 'rows per partition';
  if (/^CREATE TABLE .* AS SELECT/is.test(sql)) return 'create table as';
  if (/^INSERT INTO .* SELECT/is.test(sql)) return 'insert from shadow';
  return sql.split(/\s+/).slice(0, 2).join(' ');
}

export class StatementTally {
  private readonly byKey = new Map<string, Tally>();
  recording = false;

  readonly onStatement = (e: StatementEvent): void => {
    if (!this.recording) return;
    const key = `${e.tag?.phase ?? 'untagged'}: ${statementKind(e)}`;
    const t = this.byKey.get(key) ?? { count: 0, ms: 0 };
    t.count++;
    t.ms += e.ms;
    this.byKey.set(key, t);
  };

  rows(): Array<{ statement: string } & Tally> {
    return [...this.byKey].map(([statement, t]) => ({ statement, ...t })).sort((a, b) => b.ms - a.ms);
  }
}

// ---- activities and workflow tasks, from the workflow history ----

interface Span {
  type: string;
  scheduled: number;
  started: number | null;
  closed: number | null;
}

interface HistoryBreakdown {
  events: number;
  activities: Array<{ type: string; count: number; queueMs: number; runMs: number; maxRunMs: number }>;
  /** Wall time covered by at least one activity, scheduled → closed. */
  inActivitiesMs: number;
  workflowTasks: { count: number; ms: number };
  /** Previous runBatch closed → next one scheduled: the per-batch workflow-task round trip. */
  batchGapMs: { mean: number; max: number } | null;
}

type Timestamp = { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;
const tsMs = (ts: Timestamp): number => {
  const s = ts?.seconds ?? 0;
  return (typeof s === 'number' ? s : s.toNumber()) * 1000 + (ts?.nanos ?? 0) / 1e6;
};
const eventId = (id: unknown): string => String(id);

/** Every run's history (continue-as-new starts a new one), up to `untilMs`. */
async function historyBreakdown(
  client: Client,
  workflowId: string,
  firstRunId: string,
  untilMs: number,
): Promise<HistoryBreakdown> {
  const spans = new Map<string, Span>();
  const wftScheduled = new Map<string, number>();
  const wft = { count: 0, ms: 0 };
  let events = 0;
  let next: string | null = firstRunId;
  while (next) {
    const runId: string = next;
    next = null;
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    for (const e of history.events ?? []) {
      const at = tsMs(e.eventTime);
      if (at > untilMs) continue;
      events++;
      const id = `${runId}:${eventId(e.eventId)}`;
      const ref = (scheduledEventId: unknown) => `${runId}:${eventId(scheduledEventId)}`;
      if (e.activityTaskScheduledEventAttributes) {
        spans.set(id, {
          type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
          scheduled: at,
          started: null,
          closed: null,
        });
      } else if (e.activityTaskStartedEventAttributes) {
        const span = spans.get(ref(e.activityTaskStartedEventAttributes.scheduledEventId));
        if (span) span.started = at;
      } else if (
        e.activityTaskCompletedEventAttributes ||
        e.activityTaskFailedEventAttributes ||
        e.activityTaskTimedOutEventAttributes
      ) {
        const a =
          e.activityTaskCompletedEventAttributes ??
          e.activityTaskFailedEventAttributes ??
          e.activityTaskTimedOutEventAttributes;
        const span = spans.get(ref(a?.scheduledEventId));
        if (span) span.closed = at;
      } else if (e.workflowTaskScheduledEventAttributes) {
        wftScheduled.set(id, at);
      } else if (e.workflowTaskCompletedEventAttributes) {
        const scheduled = wftScheduled.get(ref(e.workflowTaskCompletedEventAttributes.scheduledEventId));
        if (scheduled !== undefined) {
          wft.count++;
          wft.ms += at - scheduled;
        }
      } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
        next = e.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId ?? null;
      }
    }
  }
  const closed = [...spans.values()].filter((s): s is Span & { closed: number } => s.closed !== null);

  const byType = new Map<string, HistoryBreakdown['activities'][number]>();
  for (const s of closed) {
    const started = s.started ?? s.scheduled;
    const t = byType.get(s.type) ?? { type: s.type, count: 0, queueMs: 0, runMs: 0, maxRunMs: 0 };
    t.count++;
    t.queueMs += started - s.scheduled;
    t.runMs += s.closed - started;
    t.maxRunMs = Math.max(t.maxRunMs, s.closed - started);
    byType.set(s.type, t);
  }

  // Handlers (the approval's audit write) run activities alongside the main line, so take the union.
  let inActivitiesMs = 0;
  let reach = -Infinity;
  for (const s of [...closed].sort((a, b) => a.scheduled - b.scheduled)) {
    inActivitiesMs += Math.max(0, s.closed - Math.max(s.scheduled, reach));
    reach = Math.max(reach, s.closed);
  }

  const batches = closed.filter((s) => s.type === 'runBatch').sort((a, b) => a.scheduled - b.scheduled);
  const gaps = batches.slice(1).map((s, i) => s.scheduled - batches[i]!.closed);
  return {
    events,
    activities: [...byType.values()].sort((a, b) => b.queueMs + b.runMs - (a.queueMs + a.runMs)),
    inActivitiesMs,
    workflowTasks: wft,
    batchGapMs: gaps.length ? { mean: gaps.reduce((a, b) => a + b, 0) / gaps.length, max: Math.max(...gaps) } : null,
  };
}

// ---- the full backfill ----

async function waitForState(handle: Handle, want: BackfillState): Promise<BackfillStatus> {
  for (;;) {
    let status: BackfillStatus | null = null;
    try {
      status = await handle.query(statusQuery);
    } catch (e) {
      // The first workflow task may not have registered the query yet.
      if (!/not found|no.*query|did not register/i.test(String(e))) throw e;
    }
    if (status?.state === want) return status;
    if (status?.state === 'failed' || status?.state === 'halted') {
      throw new Error(`the backfill is ${status.state} while waiting for ${want}: ` +
        `${status.error ?? status.halt?.reason ?? status.phase}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export interface FullRun {
  toAwaitingMs: number;
  approveToPublishedMs: number;
  fullMs: number;
  final: BackfillStatus;
  history: HistoryBreakdown;
}

export async function runFullBackfill(db: DuckDbDriver, spec: BackfillSpec, tally: StatementTally): Promise<FullRun> {
  // Worker state changes at INFO would interleave with the figures.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer({ headless: true });
  const cleanups: Array<() => Promise<unknown>> = [() => server.stop()];
  try {
    const native = await NativeConnection.connect({ address: server.address });
    cleanups.unshift(() => native.close());
    const connection = await Connection.connect({ address: server.address });
    cleanups.unshift(() => connection.close());
    const client = new Client({ connection, namespace: server.namespace });
    const taskQueue = `bench-${process.pid}-${Date.now().toString(36)}`;
    const worker = await createBackfillWorker({
      connection: native,
      namespace: server.namespace,
      warehouse: db,
      taskQueue,
      client,
    });
    const running = worker.run();
    cleanups.unshift(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    tally.recording = true;
    const t0 = performance.now();
    const handle = await startBackfill(client, spec, { startedBy: 'bench', taskQueue });
    await waitForState(handle, 'awaiting_approval');
    const tAwaiting = performance.now();
    await handle.executeUpdate(approveUpdate, { args: [{ by: APPROVER, comment: 'benchmark' }] });
    await waitForState(handle, 'published');
    const tPublished = performance.now();
    const publishedAt = Date.now();
    tally.recording = false;

    await handle.signal(signoffSignal, { by: APPROVER, comment: 'benchmark' });
    const final = await handle.result();
    return {
      toAwaitingMs: tAwaiting - t0,
      approveToPublishedMs: tPublished - tAwaiting,
      fullMs: tPublished - t0,
      final,
      history: await historyBreakdown(client, handle.workflowId, handle.firstExecutionRunId, publishedAt),
    };
  } finally {
    tally.recording = false;
    for (const cleanup of cleanups) await cleanup().catch((e: unknown) => console.error('cleanup failed:', e));
  }
}

// ---- report ----

interface Report {
  scale: number;
  file: string | null;
  seed: { events: number; seconds: number };
  rowsInRange: number;
  partitions: number;
  batches: number;
  floorSeconds: number;
  floorRunsSeconds: number[];
  fullSeconds: number;
  toAwaitingApprovalSeconds: number;
  approveToPublishedSeconds: number;
  ratio: number;
  overheadMsPerPartition: number;
  peakRssMiB: number;
  peakRssBeforeBackfillMiB: number;
  continuedAsNew: number;
  finalState: string;
  history: HistoryBreakdown;
  statements: ReturnType<StatementTally['rows']>;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const spec = benchSpec(opts.scale);
  const file = resolve(__dirname, '..', '.data', `bench-${opts.scale}.duckdb`);
  // A leftover file would make seeding a no-op or a conflict, and a leftover WAL would replay into it.
  rmSync(file, { force: true });
  rmSync(`${file}.wal`, { force: true });

  const tally = new StatementTally();
  const db = await openDuckDb({ path: file, onStatement: tally.onStatement });
  let report: Report;
  try {
    const seeded = await seedRevenueScenario(db, { scale: opts.scale, replace: true });
    const rows = await rowsInRange(db, spec);
    const floorRuns = await measureFloor(db, spec);
    const floorMs = Math.min(...floorRuns);
    const rssBeforeKiB = process.resourceUsage().maxRSS;
    const full = await runFullBackfill(db, spec, tally);
    const partitions = full.final.partitions.total;
    report = {
      scale: opts.scale,
      file: opts.keep ? file : null,
      seed: { events: seeded.events, seconds: seconds(seeded.ms) },
      rowsInRange: rows,
      partitions,
      batches: full.final.batches.total,
      floorSeconds: seconds(floorMs),
      floorRunsSeconds: floorRuns.map(seconds),
      fullSeconds: seconds(full.fullMs),
      toAwaitingApprovalSeconds: seconds(full.toAwaitingMs),
      approveToPublishedSeconds: seconds(full.approveToPublishedMs),
      ratio: full.fullMs / floorMs,
      overheadMsPerPartition: (full.fullMs - floorMs) / partitions,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      peakRssBeforeBackfillMiB: rssBeforeKiB / 1024,
      continuedAsNew: full.final.continuedAsNew,
      finalState: full.final.state,
      history: full.history,
      statements: tally.rows(),
    };
  } finally {
    await db.close();
    if (!opts.keep) {
      rmSync(file, { force: true });
      rmSync(`${file}.wal`, { force: true });
    }
  }
  console.log(opts.json ? JSON.stringify(report) : formatReport(report));
}

function formatReport(r: Report): string {
  const n = (v: number, digits = 0) =>
    v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const h = r.history;
  const full = r.fullSeconds * 1000;
  const pct = (ms: number) => `${n((100 * ms) / full, 1).padStart(5)}%`;
  const lines = [
    `Backfill benchmark, scale ${r.scale} ` +
      `(${n(r.seed.events)} events seeded in ${n(r.seed.seconds, 1)} s${r.file ? `; kept ${r.file}` : ''})`,
    `  rows in range      ${n(r.rowsInRange)} in ${r.partitions} daily partitions, ${r.batches} batches`,
    `  floor              ${n(r.floorSeconds, 3)} s   one CREATE TABLE AS of the whole range; ` +
      `best of ${r.floorRunsSeconds.length} (${r.floorRunsSeconds.map((s) => n(s, 3)).join(', ')} s), ` +
      `the later ones on a warm cache`,
    `  full backfill      ${n(r.fullSeconds, 3)} s   start → published (${r.finalState} after signoff)`,
    `    to awaiting_approval   ${n(r.toAwaitingApprovalSeconds, 3)} s   plan, snapshot, shadow, proof, ` +
      `batches, completion check`,
    `    approve → published    ${n(r.approveToPublishedSeconds, 3)} s`,
    `  ratio              ${n(r.ratio, 1)}×  full / floor (target ≤ 1.3)`,
    `  overhead           ${n(r.overheadMsPerPartition, 1)} ms per partition  (full − floor) / ${r.partitions}`,
    `  peak RSS           ${n(r.peakRssMiB)} MiB  maxRSS of this process, which runs the worker and DuckDB ` +
      `(${n(r.peakRssBeforeBackfillMiB)} MiB before the backfill: seeding and floor)`,
    `  continue-as-new    ${r.continuedAsNew}`,
    '',
    `Activities, start → published (workflow history, ${h.events} events; queue = scheduled → started)`,
    `  ${'activity'.padEnd(20)} ${'count'.padStart(5)} ${'queue ms'.padStart(9)} ${'run ms'.padStart(9)} ` +
      `${'ms each'.padStart(8)} ${'max ms'.padStart(8)}  share`,
    ...h.activities.map(
      (a) =>
        `  ${a.type.padEnd(20)} ${String(a.count).padStart(5)} ${n(a.queueMs).padStart(9)} ${n(a.runMs).padStart(9)} ` +
        `${n((a.queueMs + a.runMs) / a.count, 1).padStart(8)} ${n(a.maxRunMs).padStart(8)} ${pct(a.queueMs + a.runMs)}`,
    ),
    `  in activities        ${n(h.inActivitiesMs).padStart(25)} ms ${pct(h.inActivitiesMs)}  (scheduled → closed, ` +
      `overlaps counted once)`,
    `  between activities   ${n(full - h.inActivitiesMs).padStart(25)} ms ${pct(full - h.inActivitiesMs)}  ` +
      `(workflow tasks: ${h.workflowTasks.count}, ${n(h.workflowTasks.ms)} ms scheduled → completed; ` +
      `plus start, approval and status polls)`,
    h.batchGapMs
      ? `  gap between batches  mean ${n(h.batchGapMs.mean, 1)} ms, max ${n(h.batchGapMs.max)} ms ` +
        `(runBatch closed → next scheduled)`
      : '',
    '',
    `Warehouse statements, start → published (driver timings; concurrent partition rewrites overlap, ` +
      `so the sum can exceed wall time)`,
    `  ${'phase: statement'.padEnd(40)} ${'count'.padStart(6)} ${'total ms'.padStart(9)} ` +
      `${'ms each'.padStart(8)}  share`,
    ...r.statements.map(
      (s) => `  ${s.statement.padEnd(40)} ${String(s.count).padStart(6)} ${n(s.ms).padStart(9)} ` +
        `${n(s.ms / s.count, 2).padStart(8)} ${pct(s.ms)}`,
    ),
    `  ${'all statements'.padEnd(40)} ${String(r.statements.reduce((a, s) => a + s.count, 0)).padStart(6)} ` +
      `${n(r.statements.reduce((a, s) => a + s.ms, 0)).padStart(9)}`,
  ];
  return lines.filter((l, i, all) => l !== '' || all[i - 1] !== '').join('\n');
}

// bench/peers/project-run.ts imports the lifecycle from here; only `npm run bench` runs main.
if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
