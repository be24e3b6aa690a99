/**
 * This project next to the tools people would otherwise use for the same rewrite, on the same data:
 *   npm run bench:peers -- [--scale 1] [--rounds 2] [--only floor,project,dbt,sqlmesh-1,sqlmesh-7]
 *
 * Installs dbt-duckdb and SQLMesh from PyPI into .tools/peers-venv (once; a marker file records the
 * versions), seeds the FIN-2841 scenario once into a DuckDB file, and then, round by round and in this
 * order, gives each tool a fresh copy of that file and times its whole command:
 *   - floor:      one CREATE TABLE AS of the corrected transform over the range (python duckdb)
 *   - project:    the full backfill of examples/revenue-tax-fix.yaml, start → published → signoff
 *                 (bench/peers/project-run.ts, bundled as the CLI and worker are: its worker, client
 *                 and DuckDB start inside the timed command; the dev server is started once, untimed)
 *   - dbt:        a microbatch model (event_time revenue_date, batch_size day, 3 threads), run over the range
 *   - sqlmesh-N:  an INCREMENTAL_BY_TIME_RANGE model (batch_size N), restated in prod over the range
 * Every run's finance.daily_revenue (the floor's table) is fingerprinted over the range and must match
 * this project's published rows; rows outside the range must be the seed's. Exit 1 on any mismatch.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SCENARIO, seedRevenueScenario } from '../demo/revenue-scenario';
import * as bundle from '../scripts/built.cjs';
import { startDevServer } from '../scripts/dev-server';
import { openDuckDb } from '../warehouse/duckdb/driver';

const ROOT = resolve(__dirname, '..');
const VENV = join(ROOT, '.tools', 'peers-venv');
const PY = join(VENV, 'bin', 'python');
const HELPER = join(__dirname, 'peers', 'helper.py');
/** The project's command runs bundled, as `npm run worker` and `npx backfill` do (scripts/built.cjs). */
const PROJECT_RUN = join(ROOT, 'dist', 'project-run.cjs');
const SQL_FILE = join(ROOT, 'examples', 'sql', 'revenue-tax-fix.sql');
/** What pip is asked for; dbt-core 1.12 does not install offline (see the README's Benchmark section). */
const REQUIREMENTS = ["dbt-core<1.12", 'dbt-duckdb==1.11.1', 'sqlmesh==0.236.4', 'duckdb==1.5.6'];
const MARKER = join(VENV, '.bench-peers.json');

const RANGE_START = SCENARIO.backfillStart;
/** Exclusive end of the backfilled range (SCENARIO.backfillEnd is inclusive). */
const RANGE_END_EXCL = '2026-06-01';

const TOOLS = ['floor', 'project', 'dbt', 'sqlmesh-1', 'sqlmesh-7'] as const;
type Tool = (typeof TOOLS)[number];

const GUARANTEES: Record<Tool, string> = {
  floor: 'none: new table, no checks',
  project: 'shadow ✓ reconciliation ✓ snapshot ✓ atomic publish ✓',
  dbt: 'in place, DELETE+INSERT per day: ✗ ✗ ✗ ✗',
  'sqlmesh-1': 'in place, DELETE+INSERT per batch, no audits: ✗ ✗ ✗ ✗',
  'sqlmesh-7': 'in place, DELETE+INSERT per batch, no audits: ✗ ✗ ✗ ✗',
};

class UsageError extends Error {}

interface Options {
  scale: number;
  rounds: number;
  tools: Tool[];
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '2' },
      only: { type: 'string' },
    },
  });
  const scale = Number(values.scale);
  if (!Number.isFinite(scale) || scale < 1 || scale > 100) {
    throw new UsageError(`--scale must be a number from 1 to 100, got "${values.scale}"`);
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
    throw new UsageError(`--rounds must be a whole number from 1 to 10, got "${values.rounds}"`);
  }
  let tools: Tool[] = [...TOOLS];
  if (values.only !== undefined) {
    const asked = values.only.split(',').map((t) => t.trim()).filter(Boolean);
    const unknown = asked.filter((t) => !(TOOLS as readonly string[]).includes(t));
    if (unknown.length || !asked.length) {
      throw new UsageError(`--only takes a comma-separated list of ${TOOLS.join(', ')}; got "${values.only}"`);
    }
    tools = TOOLS.filter((t) => asked.includes(t));
  }
  return { scale, rounds, tools };
}

// ---- processes ----

interface Ran {
  ms: number;
  stdout: string;
}

/**
 * Runs a command to completion, its output into `log`; throws with the log's tail on a non-zero exit.
 * dbt and SQLMesh write logs/ into their working directory, so they run in their generated project's.
 */
function run(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = {}, cwd = ROOT): Promise<Ran> {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      output += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      writeFileSync(log, `$ ${cmd} ${args.join(' ')}\n${output}`);
      if (code === 0) resolveRun({ ms, stdout });
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}; log: ${log}\n${output.slice(-3000)}`));
    });
  });
}

/** The last line of `stdout` that starts with `prefix` (a JSON object line by default), parsed. */
const lastJson = <T>(stdout: string, prefix = ''): T => {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith(prefix || '{'));
  if (line === undefined) throw new Error(`no ${prefix || 'JSON'} line in:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice(prefix.length)) as T;
};

// ---- install ----

async function ensureVenv(logDir: string): Promise<string> {
  const wanted = REQUIREMENTS.join(' ');
  if (existsSync(MARKER)) {
    const marker = JSON.parse(readFileSync(MARKER, 'utf8')) as { requirements: string; versions: string };
    if (marker.requirements === wanted && existsSync(PY)) return `already installed (${marker.versions})`;
  }
  const t0 = performance.now();
  const python = process.env.PYTHON ?? 'python3';
  await run(python, ['-m', 'venv', VENV], join(logDir, 'install-venv.log'));
  await run(PY, ['-m', 'pip', 'install', '-q', ...REQUIREMENTS], join(logDir, 'install-pip.log'));
  const { stdout } = await run(PY, ['-c', 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" ' +
    'for p in ["dbt-core", "dbt-duckdb", "sqlmesh", "sqlglot", "duckdb"]))'], join(logDir, 'install-versions.log'));
  const versions = stdout.trim();
  writeFileSync(MARKER, JSON.stringify({ requirements: wanted, versions }, null, 2));
  return `installed in ${((performance.now() - t0) / 1000).toFixed(1)} s (${versions})`;
}

// ---- generated projects ----

/** The transform's SELECT without its comments and its WHERE on the partition window. */
function transformBody(): { select: string; groupBy: string } {
  const sql = readFileSync(SQL_FILE, 'utf8').replace(/--[^\n]*\n/g, '').trim();
  const m = new RegExp(
    '^(SELECT[\\s\\S]*?)\\nFROM staging\\.revenue_events\\n' +
      'WHERE revenue_date >= :partition_start AND revenue_date < :partition_end\\n(GROUP BY [^\\n]*)$',
  ).exec(sql);
  if (!m) throw new Error(`${SQL_FILE} no longer has the shape bench/peers.ts adapts for dbt and SQLMesh`);
  return { select: m[1]!, groupBy: m[2]! };
}

function writeDbtProject(dir: string, dbFile: string): void {
  const { select, groupBy } = transformBody();
  mkdirSync(join(dir, 'models'), { recursive: true });
  writeFileSync(join(dir, 'dbt_project.yml'), [
    'name: peers', "version: '1.0'", 'config-version: 2', 'profile: peers', 'model-paths: [models]', '',
  ].join('\n'));
  writeFileSync(join(dir, 'profiles.yml'), [
    'peers:', '  target: bench', '  outputs:', '    bench:', '      type: duckdb', `      path: '${dbFile}'`,
    '      schema: finance', '      threads: 3', '',
  ].join('\n'));
  writeFileSync(join(dir, 'models', 'sources.yml'), [
    'version: 2', 'sources:', '  - name: staging', '    schema: staging', '    tables:',
    '      - name: revenue_events', '        config:', '          event_time: revenue_date', '',
  ].join('\n'));
  // The source's event_time makes dbt filter it to each batch's day; the model's deletes that day and inserts it.
  writeFileSync(join(dir, 'models', 'daily_revenue.sql'), [
    "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='revenue_date',",
    `    batch_size='day', begin='${RANGE_START}', concurrent_batches=true) }}`,
    select, "FROM {{ source('staging', 'revenue_events') }}", groupBy, '',
  ].join('\n'));
}

function writeSqlmeshProject(dir: string, dbFile: string, batchSize: number): void {
  const { select, groupBy } = transformBody();
  mkdirSync(join(dir, 'models'), { recursive: true });
  writeFileSync(join(dir, 'config.yaml'), [
    'gateways:', '  local:', '    connection:', '      type: duckdb', `      database: '${dbFile}'`,
    'default_gateway: local', 'model_defaults:', '  dialect: duckdb', '',
  ].join('\n'));
  writeFileSync(join(dir, 'models', 'daily_revenue.sql'), [
    'MODEL (', '  name finance.daily_revenue,',
    `  kind INCREMENTAL_BY_TIME_RANGE (time_column revenue_date, batch_size ${batchSize}),`,
    `  start '${RANGE_START}',`, `  end '${SCENARIO.liveEnd}',`, "  cron '@daily',",
    '  grain (revenue_date, merchant_id)', ');', '',
    select, 'FROM staging.revenue_events', 'WHERE revenue_date BETWEEN @start_date AND @end_date', groupBy, '',
  ].join('\n'));
}

// ---- runs ----

interface Fingerprint {
  rows: number;
  keys: number;
  net: string;
  hash: string;
}

interface Observed {
  in: Fingerprint;
  out: Fingerprint;
  objects: string[];
}

interface Measured {
  ms: number;
  inToolMs: number | null;
  observed: Observed;
  /** The project's steps, ms since its process started. */
  steps?: Record<string, number>;
}

const NO_TRACKING = { DBT_SEND_ANONYMOUS_USAGE_STATS: 'false', DO_NOT_TRACK: '1' };

function freshCopy(from: string, to: string): void {
  rmSync(to, { force: true });
  rmSync(`${to}.wal`, { force: true });
  copyFileSync(from, to);
}

async function fingerprint(db: string, table: string, log: string): Promise<Observed> {
  const { stdout } = await run(PY, [HELPER, 'fingerprint', db, table, RANGE_START, RANGE_END_EXCL], log);
  return lastJson<Observed>(stdout);
}

interface Paths {
  work: string;
  logs: string;
  seed: string;
  db: (tool: Tool) => string;
  project: (tool: Tool) => string;
  template: (tool: Tool) => string;
}

/** The Temporal server the project uses: up before the rounds, as in production (like the SQLMesh prepare step). */
let temporalEnv: NodeJS.ProcessEnv = {};

async function runTool(tool: Tool, round: number, scale: number, p: Paths): Promise<Measured> {
  const db = p.db(tool);
  const log = (what: string) => join(p.logs, `${tool}-r${round}-${what}.log`);
  freshCopy(tool.startsWith('sqlmesh') ? p.template(tool) : p.seed, db);
  let ran: Ran;
  let inToolMs: number | null = null;
  let table: string = SCENARIO.targetTable;
  let steps: Record<string, number> | undefined;
  switch (tool) {
    case 'floor':
      ran = await run(PY, [HELPER, 'floor', db, SQL_FILE, RANGE_START, RANGE_END_EXCL], log('run'));
      inToolMs = lastJson<{ ms: number }>(ran.stdout).ms;
      table = 'finance.bench_floor';
      break;
    case 'project': {
      ran = await run(process.execPath, [PROJECT_RUN, db, String(scale)], log('run'), temporalEnv);
      const result = lastJson<{ fullMs: number; state: string; steps: Record<string, number> }>(
        ran.stdout, 'PEERS_RESULT ');
      inToolMs = result.fullMs;
      steps = result.steps;
      break;
    }
    case 'dbt':
      ran = await run(join(VENV, 'bin', 'dbt'), [
        'run', '--project-dir', p.project(tool), '--profiles-dir', p.project(tool),
        '--event-time-start', RANGE_START, '--event-time-end', RANGE_END_EXCL,
      ], log('run'), NO_TRACKING, p.project(tool));
      inToolMs = Number(/Finished running .*\(([\d.]+)s\)/.exec(ran.stdout)?.[1] ?? NaN) * 1000 || null;
      break;
    case 'sqlmesh-1':
    case 'sqlmesh-7':
      ran = await run(join(VENV, 'bin', 'sqlmesh'), [
        '-p', p.project(tool), 'plan', '--restate-model', SCENARIO.targetTable,
        '--start', RANGE_START, '--end', SCENARIO.backfillEnd, '--auto-apply', '--no-prompts',
      ], log('run'), NO_TRACKING, p.project(tool));
      break;
  }
  const observed = await fingerprint(db, table, log('fingerprint'));
  // Scale 100 copies are large; only the logs stay.
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  return { ms: ran.ms, inToolMs, observed, ...(steps && { steps }) };
}

// ---- report ----

/**
 * The project's whole command beside each peer's, and issue 11's target: faster than every peer at
 * the same batch size (SQLMesh batch_size 7 rewrites the same 7-day batches), goal 2× the fastest.
 */
function targetLines(stats: Array<{ tool: Tool; min: number }>): string[] {
  const project = stats.find((s) => s.tool === 'project');
  const peers = stats.filter((s) => s.tool !== 'project' && s.tool !== 'floor');
  if (!project || !peers.length) return [];
  const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const lines = peers.map((p) => `  project ${sec(project.min)} vs ${p.tool} ${sec(p.min)}: ` + (project.min < p.min
    ? `${(p.min / project.min).toFixed(1)}× faster`
    : `${(project.min / p.min).toFixed(1)}× slower`));
  const same = peers.find((p) => p.tool === 'sqlmesh-7');
  const fastest = Math.min(...peers.map((p) => p.min));
  return [
    '',
    'whole command, min of the rounds:',
    ...lines,
    ...(same
      ? [`target: faster than the peer with the same batch size (sqlmesh-7): ` +
        `${project.min < same.min ? 'PASS' : 'MISS'}; goal 2× the fastest peer (≤ ${sec(fastest / 2)}): ` +
        `${project.min <= fastest / 2 ? 'PASS' : 'MISS'}`]
      : []),
  ];
}

/** Where the project's whole command goes, in ms since its process started (its fastest round). */
function projectSteps(runs: Measured[]): string[] {
  const fastest = [...runs].sort((a, b) => a.ms - b.ms)[0];
  if (!fastest?.steps) return [];
  const steps = Object.entries(fastest.steps).map(([step, ms]) => `${step} ${(ms / 1000).toFixed(2)} s`);
  return [`project, fastest round, seconds since its process started: ${steps.join(' · ')} · exit ` +
    `${(fastest.ms / 1000).toFixed(2)} s`];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const sameRows = (a: Fingerprint, b: Fingerprint) =>
  a.rows === b.rows && a.keys === b.keys && a.net === b.net && a.hash === b.hash;

async function main(): Promise<void> {
  const opts = parseOptions();
  const work = join(ROOT, '.data', 'peers', `s${String(opts.scale).replace(/\W/g, '_')}`);
  const paths: Paths = {
    work,
    logs: join(work, 'logs'),
    seed: join(work, 'seed.duckdb'),
    db: (tool) => join(work, `${tool}.duckdb`),
    project: (tool) => join(work, tool),
    template: (tool) => join(work, `${tool}.template.duckdb`),
  };
  rmSync(work, { recursive: true, force: true });
  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(join(ROOT, '.tools'), { recursive: true });

  console.log(`Python tools: ${await ensureVenv(paths.logs)}`);

  const db = await openDuckDb({ path: paths.seed });
  const seeded = await seedRevenueScenario(db, { scale: opts.scale, replace: true }).finally(() => db.close());
  if (existsSync(`${paths.seed}.wal`)) throw new Error(`${paths.seed}.wal left behind: the copies would miss it`);
  const seed = await fingerprint(paths.seed, SCENARIO.targetTable, join(paths.logs, 'seed-fingerprint.log'));
  console.log(`Seeded scale ${opts.scale}: ${seeded.events.toLocaleString('en-US')} events, ` +
    `${seed.in.rows.toLocaleString('en-US')} rows in ${RANGE_START}..${SCENARIO.backfillEnd} ` +
    `(${(seeded.ms / 1000).toFixed(1)} s)`);

  /** What each tool's fresh copy holds before it runs, to list what the run left behind. */
  const baselines = new Map<Tool, string[]>();
  for (const tool of opts.tools) {
    if (tool === 'dbt') writeDbtProject(paths.project(tool), paths.db(tool));
    if (tool === 'sqlmesh-1' || tool === 'sqlmesh-7') {
      writeSqlmeshProject(paths.project(tool), paths.db(tool), tool === 'sqlmesh-1' ? 1 : 7);
      // Untimed: the model's first plan, its physical table filled with the seeded rows; each run copies this.
      freshCopy(paths.seed, paths.db(tool));
      await run(PY, [HELPER, 'sqlmesh-prepare', paths.db(tool), paths.project(tool)],
        join(paths.logs, `${tool}-prepare.log`), NO_TRACKING, paths.project(tool));
      copyFileSync(paths.db(tool), paths.template(tool));
      const prepared = await fingerprint(paths.template(tool), SCENARIO.targetTable,
        join(paths.logs, `${tool}-prepare-fingerprint.log`));
      if (!sameRows(prepared.in, seed.in) || !sameRows(prepared.out, seed.out)) {
        throw new Error(`${tool}: the prepared prod view does not read the seeded rows`);
      }
      baselines.set(tool, prepared.objects);
    }
  }

  // Untimed, like the SQLMesh prepare step: the Temporal server is infrastructure a worker connects
  // to, and the bundle is built once per change of the sources (as `npm run worker` builds it).
  if (opts.tools.includes('project') && bundle.stale()) bundle.build();
  const server = opts.tools.includes('project') ? await startDevServer({ headless: true }) : null;
  // MALLOC_ARENA_MAX as `npm run worker` sets it.
  if (server) {
    temporalEnv = {
      PEERS_TEMPORAL_ADDRESS: server.address, PEERS_TEMPORAL_NAMESPACE: server.namespace, MALLOC_ARENA_MAX: '2',
    };
  }
  const results = new Map<Tool, Measured[]>(opts.tools.map((t) => [t, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const tool of opts.tools) {
      process.stdout.write(`round ${round}/${opts.rounds}: ${tool} … `);
      const m = await runTool(tool, round, opts.scale, paths);
      results.get(tool)!.push(m);
      console.log(`${(m.ms / 1000).toFixed(2)} s`);
    }
  }

  await server?.stop();
  for (const file of [paths.seed, ...opts.tools.map(paths.template)]) rmSync(file, { force: true });

  const reference = results.get('project')?.[0]?.observed.in ?? results.get(opts.tools[0]!)![0]!.observed.in;
  const referenceName = results.has('project') ? 'this project' : opts.tools[0]!;
  const stats = opts.tools.map((tool) => {
    const runs = results.get(tool)!;
    const ms = runs.map((r) => r.ms);
    const inTool = runs.map((r) => r.inToolMs).filter((x): x is number => x !== null);
    const mismatch = runs.flatMap((r, i) => [
      ...(sameRows(r.observed.in, reference) ? [] : [`round ${i + 1}: range ${JSON.stringify(r.observed.in)}`]),
      ...(tool === 'floor' || sameRows(r.observed.out, seed.out)
        ? []
        : [`round ${i + 1}: rows outside the range moved`]),
    ]);
    return {
      tool, min: Math.min(...ms), median: median(ms),
      inTool: inTool.length ? Math.min(...inTool) : null, mismatch,
      objects: runs[0]!.observed.objects.filter((o) => !(baselines.get(tool) ?? seed.objects).includes(o)),
    };
  });
  const floorMin = stats.find((s) => s.tool === 'floor')?.min;
  const projectMin = stats.find((s) => s.tool === 'project')?.min;
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const ratio = (ms: number, base: number | undefined) =>
    base ? `${(ms / base).toFixed(ms / base < 0.1 ? 3 : 1)}×` : '—';

  const header = ['tool', 'guarantees (shadow, reconciliation, snapshot, atomic publish)', 'min s', 'median s',
    'in-tool s', '× floor', '× project', 'rows'];
  const rows = stats.map((s) => [s.tool, GUARANTEES[s.tool], sec(s.min), sec(s.median),
    s.inTool === null ? '—' : sec(s.inTool), ratio(s.min, floorMin), ratio(s.min, projectMin),
    s.mismatch.length ? '✗' : '✓']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log([
    '',
    `Peers, scale ${opts.scale}, ${opts.rounds} round(s) interleaved; seconds are the wall time of each tool's ` +
      `whole command (process start to exit, incl. startup/parse), min and median; ratios on the min.`,
    `in-tool: floor = the CREATE TABLE AS alone; dbt = its "Finished running" time; project = start → published ` +
      `(the command adds starting its worker, signoff, cleanup and stopping; the Temporal dev server runs ` +
      `throughout, started before the rounds like the SQLMesh prepare step).`,
    ...projectSteps(results.get('project') ?? []),
    `rows: ${SCENARIO.targetTable} over ${RANGE_START}..${SCENARIO.backfillEnd} (count, keys, sum(net_revenue), ` +
      `hash of the data columns) equal to ${referenceName}'s, and rows outside the range untouched.`,
    '',
    line(header),
    line(header.map((_, i) => '-'.repeat(widths[i]!))),
    ...rows.map(line),
    '',
    ...targetLines(stats),
    '',
    `reference fingerprint: ${JSON.stringify(reference)}`,
    `the seed before the fix: ${JSON.stringify(seed.in)}`,
    ...stats.filter((s) => s.objects.length).map((s) => `objects ${s.tool} left next to the seed's: ` +
      s.objects.join(', ')),
    ...stats.flatMap((s) => s.mismatch.map((m) => `✗ ${s.tool} ${m}`)),
    `logs: ${paths.logs}`,
  ].join('\n'));
  if (stats.some((s) => s.mismatch.length)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  if (e instanceof UsageError || String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
    // Unknown flags too: parseArgs is strict.
    console.error(`bench:peers: ${(e as Error).message}`);
    process.exit(2);
  }
  console.error(e);
  process.exit(1);
});
