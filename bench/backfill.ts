/**
 * What a safe backfill costs over the bare rewrite, printed as figures beside issue 11's targets
 * (a benchmark: it never asserts a timing):
 *   npm run bench -- [--scenario revenue|hourly] [--scale 1] [--keep] [--json]
 *
 * Scenarios, each seeded afresh in a DuckDB file under .data/:
 *   - revenue (default): FIN-2841 (demo/revenue-scenario.ts) and examples/revenue-tax-fix.yaml, 547 daily
 *     partitions; --scale multiplies the merchants (1, 10 and 100 are the measured sizes)
 *   - hourly: bench/hourly-fx-scenario.ts and bench/hourly-fx-fix.yaml, 2,208 hourly partitions whose
 *     rewrites each read an unsorted 3 M-row source
 * On that one file it measures
 *   - the floor: the whole range rewritten by one CREATE TABLE AS of the transform (in this process), and
 *   - the full backfill on a real dev server, start → published, in a child process (bench/full-run.ts)
 *     that runs the worker and DuckDB, so the peak RSS printed is the worker's alone,
 * and breaks the full run down by activity (from the workflow history) and by warehouse statement
 * (from the driver's statement events), which is what says where the difference goes.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadSpecFile } from '../client/load-spec';
import { startBackfill } from '../client/start-backfill';
import { approveUpdate, signoffSignal, statusQuery } from '../contracts/messages';
import type { BackfillState, BackfillStatus } from '../contracts/status';
import { seedRevenueScenario } from '../demo/revenue-scenario';
import { partitionLabel, rangeOrdinals } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { compileTransform } from '../domain/transform-sql';
import { openDuckDb, type DuckDbDriver } from '../warehouse/duckdb/driver';
import type { StatementEvent } from '../warehouse/warehouse';
import { tablesOf } from '../warehouse/shadow';
import { startDevServer } from '../scripts/dev-server';
import { createBackfillWorker } from '../worker/create-worker';
import type { backfillWorkflow } from '../workflows';
import { FX_SCENARIO, seedHourlyFxScenario } from './hourly-fx-scenario';

const ROOT = resolve(__dirname, '..');
const SPEC_FILE = join(ROOT, 'examples', 'revenue-tax-fix.yaml');
const HOURLY_SPEC_FILE = join(__dirname, 'hourly-fx-fix.yaml');
const FULL_RUN = join(__dirname, 'full-run.ts');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const APPROVER = 'finance-controller';
const FLOOR_TABLE = 'finance.bench_floor';
const FLOOR_RUNS = 2;
/** Status polls add up to this much to each measured step; small next to a batch. */
const POLL_MS = 25;
/** The line bench/full-run.ts prints its FullRunResult on. */
export const RESULT_PREFIX = 'BENCH_RESULT ';

type Handle = WorkflowHandle<typeof backfillWorkflow>;

const SCENARIOS = ['revenue', 'hourly'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

interface Options {
  scenario: ScenarioName;
  scale: number;
  keep: boolean;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'revenue' },
      scale: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const scenario = values.scenario as ScenarioName;
  if (!SCENARIOS.includes(scenario)) {
    throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}, got "${values.scenario}"`);
  }
  if (scenario === 'hourly' && values.scale !== undefined) {
    throw new Error('--scale applies to the revenue scenario; the hourly one has a fixed size (3 M events)');
  }
  const scale = Number(values.scale ?? '1');
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(
      `--scale must be a positive number (the scenario is built for 1, 10 and 100), got "${values.scale}"`,
    );
  }
  return { scenario, scale, keep: values.keep, json: values.json };
}

const seconds = (ms: number) => ms / 1000;

/**
 * A spec as a benchmark runs it: nothing may make it wait (no live-pipeline gating, pause windows or
 * scan budget), and a short rollback window, since signoff ends the run anyway.
 */
function withoutGating(base: BackfillSpec, backfillId: string): BackfillSpec {
  return {
    ...base,
    backfill_id: backfillId,
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

/** examples/revenue-tax-fix.yaml as the benchmark runs it. */
export function benchSpec(scale: number): BackfillSpec {
  return withoutGating(
    loadSpecFile(SPEC_FILE).spec,
    `bench-s${String(scale).replace(/\W/g, '_')}-${Date.now().toString(36)}`,
  );
}

/** bench/hourly-fx-fix.yaml, loaded and validated as a user's spec is, as the benchmark runs it. */
export function hourlyBenchSpec(): BackfillSpec {
  return withoutGating(loadSpecFile(HOURLY_SPEC_FILE).spec, `bench-hourly-${Date.now().toString(36)}`);
}

// ---- issue 11's targets ----

interface Target {
  /** At most this (ratio to the floor, or MiB). */
  max: number;
  goal?: number;
  unit: '×' | ' MiB';
  /** Where the target is stated, e.g. "at scale 100". */
  scope?: string;
  /** Null when the target applies to this run; else why not. */
  notApplicable: string | null;
}

interface TargetResult {
  figure: string;
  value: number;
  target: Target;
  /** Null when the target does not apply to this run. */
  verdict: 'PASS' | 'MISS' | null;
  goalMet: boolean | null;
}

function judge(figure: string, value: number, target: Target): TargetResult {
  const applies = target.notApplicable === null;
  return {
    figure,
    value,
    target,
    verdict: applies ? (value <= target.max ? 'PASS' : 'MISS') : null,
    goalMet: applies && target.goal !== undefined ? value <= target.goal : null,
  };
}

interface Scenario {
  name: ScenarioName;
  title: string;
  file: string;
  spec: BackfillSpec;
  seed(db: DuckDbDriver): Promise<{ events: number; ms: number }>;
  /** What the source is, for the report. */
  source: string;
  ratioTarget: Target;
  rssTarget: Target;
}

const AT_SCALE_100 = 'the target applies at scale 100';

function scenarioFor(opts: Options): Scenario {
  const rss = (notApplicable: string | null): Target =>
    ({ max: 600, unit: ' MiB', scope: 'at scale 100', notApplicable });
  if (opts.scenario === 'hourly') {
    return {
      name: 'hourly',
      title: 'hourly FX (2,208 hourly partitions)',
      file: resolve(ROOT, '.data', 'bench-hourly.duckdb'),
      spec: hourlyBenchSpec(),
      seed: (db) => seedHourlyFxScenario(db),
      source: `${FX_SCENARIO.sourceTable}: ${FX_SCENARIO.events.toLocaleString('en-US')} events over ` +
        `${FX_SCENARIO.sourceDays} days in random row order, so no hour's scan can skip any of it`,
      ratioTarget: { max: 10, unit: '×', notApplicable: null },
      rssTarget: rss('the target applies to the revenue scenario at scale 100'),
    };
  }
  const at100 = opts.scale === 100 ? null : AT_SCALE_100;
  return {
    name: 'revenue',
    title: `scale ${opts.scale}`,
    file: resolve(ROOT, '.data', `bench-${opts.scale}.duckdb`),
    spec: benchSpec(opts.scale),
    seed: (db) => seedRevenueScenario(db, { scale: opts.scale, replace: true }),
    source: 'staging.revenue_events, stored in revenue_date order',
    ratioTarget: { max: 5, goal: 3, unit: '×', scope: 'at scale 100', notApplicable: at100 },
    rssTarget: rss(at100),
  };
}

// ---- floor: one statement, no orchestration, no checks ----

/** The source range as bound values: first partition's start, and the end of the last (exclusive). */
function rangeBounds(spec: BackfillSpec): [string, string] {
  const grain = spec.source_range.grain;
  const range = rangeOrdinals(spec.source_range.start, spec.source_range.end, grain);
  if (!range) throw new Error(`the spec's source_range is not valid at grain ${grain}`);
  return [partitionLabel(range.first, grain), partitionLabel(range.last + 1, grain)];
}

async function rowsInRange(db: DuckDbDriver, spec: BackfillSpec): Promise<number> {
  const d = db.dialect;
  const key = d.quoteIdent(spec.target.partition_key);
  const grain = spec.source_range.grain;
  const [row] = await db.query({
    sql: `SELECT count(*) AS n FROM ${d.table(tablesOf(spec).target)} WHERE ${key} >= ${d.boundValue(1, grain)} AND ` +
      `${key} < ${d.boundValue(2, grain)}`,
    params: rangeBounds(spec),
  });
  return Number(row?.n ?? 0);
}

/** Each run creates and drops the table; the best run is the one on a warm cache. */
async function measureFloor(db: DuckDbDriver, spec: BackfillSpec): Promise<number[]> {
  const compiled = compileTransform(spec.transform!.sql, (i) => db.dialect.boundValue(i, spec.source_range.grain));
  const create = { sql: `CREATE TABLE ${FLOOR_TABLE} AS ${compiled.sql}`, params: rangeBounds(spec) };
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

/**
 * After the run: the published rows over the range against the transform's output over the whole range
 * (the floor's rows), every column but the audit columns, as multisets. Not timed.
 */
async function publishedVsFloor(db: DuckDbDriver, spec: BackfillSpec): Promise<{ extra: number; missing: number }> {
  const d = db.dialect;
  const grain = spec.source_range.grain;
  const target = tablesOf(spec).target;
  const columns = await db.query({
    sql: 'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ' +
      'ORDER BY ordinal_position',
    params: [target.schema, target.name],
  });
  const cols = columns.map((c) => String(c.column_name)).filter((c) => !spec.target.audit_columns.includes(c))
    .map((c) => d.quoteIdent(c)).join(', ');
  const key = d.quoteIdent(spec.target.partition_key);
  const published = `SELECT ${cols} FROM ${d.table(target)} ` +
    `WHERE ${key} >= ${d.boundValue(1, grain)} AND ${key} < ${d.boundValue(2, grain)}`;
  const floor = `SELECT ${cols} FROM (${compileTransform(spec.transform!.sql, (i) => d.boundValue(i, grain)).sql})`;
  const [row] = await db.query({
    sql: `SELECT (SELECT count(*) FROM (${published} EXCEPT ALL ${floor})) AS extra, ` +
      `(SELECT count(*) FROM (${floor} EXCEPT ALL ${published})) AS missing`,
    params: rangeBounds(spec),
  });
  return { extra: Number(row?.extra ?? -1), missing: Number(row?.missing ?? -1) };
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
  if (/^DELETE FROM/i.test(sql)) return 'delete (partition or batch)';
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
  /** process.resourceUsage().maxRSS (KiB) once the worker is created (workflow bundle built), before the start. */
  maxRssWorkerReadyKiB: number;
  final: BackfillStatus;
  history: HistoryBreakdown;
}

export interface FullRunOptions {
  /** A Temporal server already running (as in production); else this run starts a dev server. */
  temporal?: { address: string; namespace: string };
  /** Read the workflow history for the activity breakdown (default true). */
  history?: boolean;
  /** Called at each step: 'worker ready', 'published', 'done'. */
  onStep?: (step: string) => void;
}

export async function runFullBackfill(
  db: DuckDbDriver,
  spec: BackfillSpec,
  tally: StatementTally,
  opts: FullRunOptions = {},
): Promise<FullRun> {
  // Worker state changes at INFO would interleave with the figures.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const running = opts.temporal ? null : await startDevServer({ headless: true });
  const server = opts.temporal ?? running!;
  const cleanups: Array<() => Promise<unknown>> = running ? [() => running.stop()] : [];
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
    const maxRssWorkerReadyKiB = process.resourceUsage().maxRSS;
    opts.onStep?.('worker ready');
    const working = worker.run();
    cleanups.unshift(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await working;
    });

    tally.recording = true;
    const t0 = performance.now();
    const handle = await startBackfill(client, spec, { startedBy: 'bench', taskQueue });
    await waitForState(handle, 'awaiting_approval');
    const tAwaiting = performance.now();
    const digest = (await handle.query(statusQuery)).decisionDigest ?? undefined;
    await handle.executeUpdate(approveUpdate, { args: [{ by: APPROVER, comment: 'benchmark', digest }] });
    await waitForState(handle, 'published');
    const tPublished = performance.now();
    const publishedAt = Date.now();
    tally.recording = false;
    opts.onStep?.('published');

    const released = (await handle.query(statusQuery)).decisionDigest ?? undefined;
    await handle.signal(signoffSignal, { by: APPROVER, comment: 'benchmark', digest: released });
    const final = await handle.result();
    opts.onStep?.('signed off, tables cleaned up');
    const none: HistoryBreakdown = { events: 0, activities: [], inActivitiesMs: 0, workflowTasks: { count: 0, ms: 0 },
      batchGapMs: null };
    return {
      toAwaitingMs: tAwaiting - t0,
      approveToPublishedMs: tPublished - tAwaiting,
      fullMs: tPublished - t0,
      maxRssWorkerReadyKiB,
      final,
      history: opts.history === false
        ? none
        : await historyBreakdown(client, handle.workflowId, handle.firstExecutionRunId, publishedAt),
    };
  } finally {
    tally.recording = false;
    for (const cleanup of cleanups) await cleanup().catch((e: unknown) => console.error('cleanup failed:', e));
  }
}

/** What bench/full-run.ts reports from its own process. */
export interface FullRunResult extends Omit<FullRun, 'final'> {
  final: {
    state: string;
    partitions: number;
    batches: number;
    continuedAsNew: number;
    /** How preparation decided to rewrite batches (set-based batches, issue 11), when status says. */
    batchMode: { mode: string; reason: string } | null;
  };
  statements: ReturnType<StatementTally['rows']>;
  /** process.resourceUsage().maxRSS in KiB (Linux): once DuckDB is open, and at the end. */
  maxRssBeforeKiB: number;
  maxRssKiB: number;
}

/** Runs bench/full-run.ts on the (closed) file; its stderr is passed through, other stdout to stderr. */
async function runInChild(file: string, spec: BackfillSpec): Promise<FullRunResult> {
  const specFile = `${file}.spec.json`;
  writeFileSync(specFile, JSON.stringify(spec));
  try {
    return await new Promise<FullRunResult>((resolveRun, reject) => {
      // Run as `npm run worker` runs the worker: glibc's malloc limited to 2 arenas (see package.json).
      const child = spawn(TSX, [FULL_RUN, file, specFile], {
        cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MALLOC_ARENA_MAX: '2' },
      });
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        const lines = stdout.split('\n');
        const result = lines.find((l) => l.startsWith(RESULT_PREFIX));
        const other = lines.filter((l) => l !== result && l.trim() !== '');
        if (other.length) process.stderr.write(`${other.join('\n')}\n`);
        if (code === 0 && result) resolveRun(JSON.parse(result.slice(RESULT_PREFIX.length)) as FullRunResult);
        else reject(new Error(`bench/full-run.ts exited with ${signal ?? `code ${code}`} and no result`));
      });
    });
  } finally {
    rmSync(specFile, { force: true });
  }
}

// ---- report ----

interface Report {
  scenario: ScenarioName;
  title: string;
  scale: number | null;
  file: string | null;
  seed: { events: number; seconds: number };
  source: string;
  grain: string;
  rowsInRange: number;
  partitions: number;
  batches: number;
  batchMode: FullRunResult['final']['batchMode'];
  /** Published rows over the range not in the floor's output (extra), and the floor's not published (missing). */
  publishedVsFloor: { extra: number; missing: number };
  floorSeconds: number;
  floorRunsSeconds: number[];
  fullSeconds: number;
  toAwaitingApprovalSeconds: number;
  approveToPublishedSeconds: number;
  ratio: number;
  overheadMsPerPartition: number;
  /** Peak RSS of the process running the worker and DuckDB (bench/full-run.ts). */
  workerPeakRssMiB: number;
  workerRssBeforeBackfillMiB: number;
  workerRssReadyMiB: number;
  /** Peak RSS of this process, which seeded the file and ran the floor; not the worker's. */
  seedAndFloorPeakRssMiB: number;
  targets: TargetResult[];
  continuedAsNew: number;
  finalState: string;
  history: HistoryBreakdown;
  statements: ReturnType<StatementTally['rows']>;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const scenario = scenarioFor(opts);
  const { file, spec } = scenario;
  const removeFile = () => {
    // A leftover file would make seeding a conflict, and a leftover WAL would replay into it.
    rmSync(file, { force: true });
    rmSync(`${file}.wal`, { force: true });
  };
  removeFile();

  let report: Report;
  try {
    const db = await openDuckDb({ path: file });
    let seeded: { events: number; ms: number };
    let rows: number;
    let floorRuns: number[];
    try {
      seeded = await scenario.seed(db);
      rows = await rowsInRange(db, spec);
      floorRuns = await measureFloor(db, spec);
      await db.execute('CHECKPOINT');
    } finally {
      await db.close();
    }
    const floorMs = Math.min(...floorRuns);
    const full = await runInChild(file, spec);
    const check = await openDuckDb({ path: file });
    let rowsCheck: { extra: number; missing: number };
    try {
      rowsCheck = await publishedVsFloor(check, spec);
    } finally {
      await check.close();
    }
    const partitions = full.final.partitions;
    const ratio = full.fullMs / floorMs;
    const workerPeakRssMiB = full.maxRssKiB / 1024;
    report = {
      scenario: scenario.name,
      title: scenario.title,
      scale: scenario.name === 'revenue' ? opts.scale : null,
      file: opts.keep ? file : null,
      seed: { events: seeded.events, seconds: seconds(seeded.ms) },
      source: scenario.source,
      grain: spec.source_range.grain,
      rowsInRange: rows,
      partitions,
      batches: full.final.batches,
      batchMode: full.final.batchMode,
      publishedVsFloor: rowsCheck,
      floorSeconds: seconds(floorMs),
      floorRunsSeconds: floorRuns.map(seconds),
      fullSeconds: seconds(full.fullMs),
      toAwaitingApprovalSeconds: seconds(full.toAwaitingMs),
      approveToPublishedSeconds: seconds(full.approveToPublishedMs),
      ratio,
      overheadMsPerPartition: (full.fullMs - floorMs) / partitions,
      workerPeakRssMiB,
      workerRssBeforeBackfillMiB: full.maxRssBeforeKiB / 1024,
      workerRssReadyMiB: full.maxRssWorkerReadyKiB / 1024,
      seedAndFloorPeakRssMiB: process.resourceUsage().maxRSS / 1024,
      targets: [
        judge('full backfill / floor', ratio, scenario.ratioTarget),
        judge('worker peak RSS', workerPeakRssMiB, scenario.rssTarget),
      ],
      continuedAsNew: full.final.continuedAsNew,
      finalState: full.final.state,
      history: full.history,
      statements: full.statements,
    };
  } finally {
    if (!opts.keep) removeFile();
  }
  console.log(opts.json ? JSON.stringify(report) : formatReport(report));
  if (report.publishedVsFloor.extra !== 0 || report.publishedVsFloor.missing !== 0) process.exitCode = 1;
}

const n = (v: number, digits = 0) =>
  v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** "(target ≤ 5× at scale 100, goal 3×)  MISS", or the target with why it does not apply to this run. */
function targetText(t: TargetResult): string {
  const { max, goal, unit, scope, notApplicable } = t.target;
  const stated =
    `target ≤ ${n(max)}${unit}${scope ? ` ${scope}` : ''}${goal !== undefined ? `, goal ${n(goal)}${unit}` : ''}`;
  if (t.verdict === null) return `(${stated}; ${notApplicable})`;
  const goalText = t.goalMet === null ? '' : t.goalMet ? ', goal met' : ', goal not met';
  return `(${stated})  ${t.verdict}${goalText}`;
}

function rowsCheckText(r: Report): string {
  const { extra, missing } = r.publishedVsFloor;
  return extra === 0 && missing === 0
    ? `equal to the floor's over the range (every column but the audit columns; checked after timing)`
    : `DIFFER from the floor's: ${n(extra)} published rows not in the transform's output, ` +
      `${n(missing)} of its rows not published (exit code 1)`;
}

function formatReport(r: Report): string {
  const h = r.history;
  const full = r.fullSeconds * 1000;
  const pct = (ms: number) => `${n((100 * ms) / full, 1).padStart(5)}%`;
  const [ratioTarget, rssTarget] = r.targets as [TargetResult, TargetResult];
  const lines = [
    `Backfill benchmark, ${r.title} ` +
      `(${n(r.seed.events)} events seeded in ${n(r.seed.seconds, 1)} s${r.file ? `; kept ${r.file}` : ''})`,
    `  source             ${r.source}`,
    `  rows in range      ${n(r.rowsInRange)} in ${n(r.partitions)} ${r.grain === 'hour' ? 'hourly' : 'daily'} ` +
      `partitions, ${r.batches} batches`,
    `  batch mode         ${r.batchMode ? `${r.batchMode.mode}: ${r.batchMode.reason}` : 'not in the status'}`,
    `  floor              ${n(r.floorSeconds, 3)} s   one CREATE TABLE AS of the whole range; ` +
      `best of ${r.floorRunsSeconds.length} (${r.floorRunsSeconds.map((s) => n(s, 3)).join(', ')} s), ` +
      `the later ones on a warm cache`,
    `  full backfill      ${n(r.fullSeconds, 3)} s   start → published (${r.finalState} after signoff)`,
    `    to awaiting_approval   ${n(r.toAwaitingApprovalSeconds, 3)} s   plan, snapshot, shadow, proof, ` +
      `batches, completion check`,
    `    approve → published    ${n(r.approveToPublishedSeconds, 3)} s`,
    `  published rows     ${rowsCheckText(r)}`,
    `  ratio              ${n(r.ratio, 1)}×  full / floor ${targetText(ratioTarget)}`,
    `  overhead           ${n(r.overheadMsPerPartition, 1)} ms per partition  (full − floor) / ${r.partitions}`,
    `  worker peak RSS    ${n(r.workerPeakRssMiB)} MiB ${targetText(rssTarget)}`,
    `                     maxRSS of the process running the worker, DuckDB and the bench's client (the dev ` +
      `server is another process):`,
    `                     ${n(r.workerRssBeforeBackfillMiB)} MiB with DuckDB open, ` +
      `${n(r.workerRssReadyMiB)} MiB once the worker was created (workflow bundle built), before the start; ` +
      `seeding and the floor peaked at ${n(r.seedAndFloorPeakRssMiB)} MiB in the bench process`,
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

// bench/full-run.ts and bench/peers/project-run.ts import the lifecycle from here; only `npm run bench` runs main.
if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
