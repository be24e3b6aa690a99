/**
 * `backfill preview`: a shallow, non-destructive replay before the run. A sample of partitions
 * (domain/preview.ts previewSample) is rewritten with the transform into a scratch table, their
 * evidence is read the way a batch's is (batch-evidence.ts) and judged by the same pure judge
 * (domain/reconcile.ts), and the scratch table is dropped. No lease, no snapshot, no shadow;
 * production is only read. The one write to the control schema is the scratch table's ownership
 * record (role `preview`: claimed before the CREATE, created, dropped), so a preview that dies
 * midway leaves a table the product recorded: the next preview of the backfill, its run's
 * cleanup or the demo's reset drops it.
 *
 * The sample is judged as ONE batch, not one batch per partition: the verdict that decides the exit
 * code is then the judgement a run makes of a batch of that many partitions (the example's batches
 * hold 7, the default sample), where a single partition's delta would be judged against a band meant
 * for a batch and halt a preview the run would pass. Per-partition figures are still shown, and
 * every structural check names its partitions.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { SPEC_LIMITS } from '../contracts/limits';
import {
  PREVIEW_CHANGED_ROWS, previewEstimate, previewPartitionsProblem, previewSample, previewTableFor,
  PREVIEW_LIMITS, type PreviewPartition, type PreviewResult,
} from '../domain/preview';
import {
  batchName, emptyCumulative, reconcileBatch, type BatchEvidence, type PartitionComparison,
} from '../domain/reconcile';
import type { BackfillSpec } from '../domain/spec/schema';
import { gatherBatchEvidence } from './batch-evidence';
import { columnNames, tableExists } from './catalog';
import { ACTIVE_CLAIM, ControlStore, type OwnedTable } from './control-store';
import { formatTableName, parseTableName, type TableName } from './identifiers';
import {
  canonicalOf, checkOwnership, currentDatabase, derivedTables, identityProblem, recordCreated, recordDropped,
} from './ownership';
import { estimatePlan } from './plan-estimates';
import { rewritePartition } from './shadow';
import type { Driver, QueryOptions } from './warehouse';

export interface PreviewOptions {
  /** Partitions to rewrite, PREVIEW_LIMITS (default 7). */
  partitions?: number;
  /** The clock of the ownership record. */
  now?: () => string;
  signal?: AbortSignal;
}

const refuse = (message: string, details: Record<string, unknown>): never => {
  throw new BackfillFailure(BackfillError.NotAllowed, message, details);
};

/** The scratch table's name for this backfill, parsed (a too long name is refused, naming backfill_id). */
export function previewTable(spec: BackfillSpec): TableName {
  const name = previewTableFor(spec.target.table, spec.backfill_id);
  const table = parseTableName(spec.target.table, 'target.table');
  const part = name.split('.').at(-1)!;
  if (part.length > 128) {
    throw new BackfillFailure(
      BackfillError.InvalidSpec,
      `backfill_id: the preview's scratch table ${part} would be ${part.length} characters, above 128; ` +
        `use a shorter backfill_id.`,
      { field: 'backfill_id' },
    );
  }
  return { ...table, name: part };
}

/**
 * Claims the scratch table for this backfill before anything is written. Refused, naming it: a name
 * that is one of the spec's tables, another backfill's table, or a table this backfill's previews did
 * not create. A table an earlier preview of this backfill left (it died before its drop) is still as
 * recorded: it is dropped here, and the name claimed again.
 */
async function claimScratch(db: Driver, spec: BackfillSpec, at: string, q: QueryOptions): Promise<OwnedTable> {
  const id = spec.backfill_id;
  const table = previewTable(spec);
  const name = formatTableName(table);
  const database = await currentDatabase(db, q);
  const canonical = canonicalOf(table, database);
  const targetCanonical = canonicalOf(parseTableName(spec.target.table, 'target.table'), database);
  for (const [field, other] of [
    ['target.table', spec.target.table] as const,
    ...derivedTables(spec).map((d) => [d.field, d.name] as const),
  ]) {
    if (canonicalOf(parseTableName(other, field), database) === canonical) {
      refuse(
        `${field}: "${other}" is the name of the preview's scratch table (${name}); a preview writes and drops ` +
          `only its scratch table. Name ${field} otherwise.`,
        { field, table: name },
      );
    }
  }
  const store = new ControlStore(db);
  const holders = (await tableExists(db, store.table('owned_tables'), q)) ? await store.ownersOf(canonical, db, q) : [];
  const others = (owners: OwnedTable[]) =>
    owners.filter((o) => ACTIVE_CLAIM.includes(o.status) && (o.backfillId !== id || o.role !== 'preview'));
  const taken = others(holders)[0];
  if (taken) {
    refuse(
      `${name} is the ${taken.role} of backfill ${taken.backfillId} (recorded ${taken.claimedAt}); a preview never ` +
        `writes or drops another backfill's tables. Preview under another backfill_id.`,
      { table: name, owner: taken.backfillId },
    );
  }
  const mine = holders.find((o) => o.backfillId === id && o.role === 'preview') ?? null;
  const live = mine !== null && ACTIVE_CLAIM.includes(mine.status);
  if (await tableExists(db, table, q)) {
    if (!live) {
      refuse(
        `${name} already exists and was not created by a preview of backfill ${id}; a preview writes and drops ` +
          `only the scratch table it created, so it will not use, overwrite or drop it. Drop it yourself after ` +
          `checking nothing needs it, or preview under another backfill_id.`,
        { table: name },
      );
    }
    // Left by a preview that did not finish: dropped if it is still what was recorded (or, claimed
    // and never recorded as created, what the CREATE makes: the target's columns).
    const problem = mine!.status === 'created'
      ? await identityProblem(db, spec, table, mine!.record, q)
      : (await columnNames(db, table, q)).join(',') !== (await columnNames(db, spec.target.table, q)).join(',')
        ? 'its columns are not the target\'s'
        : null;
    if (problem) {
      refuse(
        `${name} is not the scratch table a preview of backfill ${id} created: ${problem}. Nothing was written; ` +
          `drop it yourself after checking who changed it.`,
        { table: name },
      );
    }
    await db.execute(db.dialect.dropTable(table), q);
    await recordDropped(db, spec, mine!, at, q);
  }
  await store.ensure(q);
  const record: OwnedTable = {
    canonicalName: canonical, backfillId: id, tableName: name, role: 'preview', targetTable: targetCanonical,
    status: 'claimed', record: null, claimedAt: at, createdAt: null, droppedAt: null,
  };
  await db.transaction(async (tx) => {
    const now = await store.ownersOf(canonical, tx);
    const raced = others(now)[0];
    if (raced) {
      refuse(`${name} was just claimed by backfill ${raced.backfillId}; preview again later.`, {
        table: name, owner: raced.backfillId,
      });
    }
    if (now.some((o) => o.backfillId === id)) await store.reclaimTable(record, tx);
    else await store.claimTable(record, tx);
  }, q);
  return record;
}

const toNumber = (text: string | null | undefined) => (text === null || text === undefined ? 0 : Number(text));

function partitionFigures(spec: BackfillSpec, c: PartitionComparison) {
  return spec.measures.map((m) => {
    const oldSum = toNumber(c.oldSums[m.column]);
    const newSum = toNumber(c.newSums[m.column]);
    const deltaPct = oldSum === 0 ? null : (100 * (newSum - oldSum)) / Math.abs(oldSum);
    return { column: m.column, oldSum, newSum, deltaPct };
  });
}

/**
 * Rewrites a stratified sample of partitions into the scratch table, judges them, and drops the
 * table. Refusals (an unowned table at the scratch name, a published backfill_id, a name a run
 * would refuse) come before any write. Production and every other table are only read.
 */
export async function previewBackfill(
  db: Driver,
  spec: BackfillSpec,
  opts: PreviewOptions = {},
): Promise<PreviewResult> {
  const started = performance.now();
  const n = opts.partitions ?? PREVIEW_LIMITS.defaultPartitions;
  const problem = previewPartitionsProblem(n);
  if (problem) throw new BackfillFailure(BackfillError.InvalidRequest, problem);
  if (!spec.transform) {
    throw new BackfillFailure(
      BackfillError.SpecNotRunnable,
      'transform: the spec has no transform to preview; add transform.sql or transform.sql_file.',
    );
  }
  const now = opts.now ?? (() => new Date().toISOString());
  const q: QueryOptions = {
    tag: { backfillId: spec.backfill_id, phase: 'preview' }, timeoutMs: spec.execution.query_timeout,
    signal: opts.signal,
  };
  // What a run would meet before its first write, then the plan (rows per partition, the representative).
  await checkOwnership(db, spec, q);
  const plan = await estimatePlan(db, spec, { ...q, sample: false });
  const sample = previewSample(spec, plan.representativePartition, n);
  const record = await claimScratch(db, spec, now(), q);
  const scratch = previewTable(spec);
  // The batch code reads and writes the spec's shadow: pointed at the scratch table, it is reused whole.
  const scratchSpec: BackfillSpec = { ...spec, target: { ...spec.target, shadow_table: record.tableName } };

  let created = false;
  const judged = async () => {
    await db.execute(db.dialect.createTableLike(scratch, parseTableName(spec.target.table, 'target.table')), q);
    created = true;
    await recordCreated(db, spec, record, { columns: await columnNames(db, scratch, q) }, now(), q);
    const columns = await columnNames(db, spec.target.table, q);
    const timings: Array<Pick<PreviewPartition, 'rewriteSeconds' | 'checkSeconds'>> = [];
    const evidence: BatchEvidence = { batchIndex: 0, partitions: [], plannedPartitions: [], topChangedRows: [] };
    for (const p of sample) {
      const t0 = performance.now();
      await rewritePartition(db, scratchSpec, p, columns, { ...q, tag: { ...q.tag!, partition: p.start } });
      const t1 = performance.now();
      // One partition at a time: the changed rows of a span would count every partition left out as deleted.
      const one = await gatherBatchEvidence(db, scratchSpec, 0, [p], q);
      timings.push({ rewriteSeconds: (t1 - t0) / 1000, checkSeconds: (performance.now() - t1) / 1000 });
      evidence.partitions.push(...one.partitions);
      evidence.plannedPartitions.push(...one.plannedPartitions);
      evidence.topChangedRows.push(...one.topChangedRows);
      for (const r of one.custom ?? []) {
        // A custom check's result over the sample: its failing rows in every partition, its first error.
        const seen = (evidence.custom ??= []).find((c) => c.name === r.name);
        if (!seen) evidence.custom.push({ ...r, rows: [...r.rows] });
        else {
          const rows = [...seen.rows, ...r.rows];
          seen.rows = rows.slice(0, SPEC_LIMITS.checkRowsKept);
          seen.more = seen.more || r.more || rows.length > seen.rows.length;
          if (seen.error === undefined && r.error !== undefined) seen.error = r.error;
        }
      }
    }
    return { verdict: reconcileBatch(spec, evidence, emptyCumulative()), evidence, timings };
  };

  let outcome: Awaited<ReturnType<typeof judged>>;
  try {
    outcome = await judged();
  } catch (e) {
    // The preview's own failure is the one to report; a table left behind stays recorded as created,
    // and the next preview of this backfill drops it.
    await dropScratch(db, spec, record, scratch, created, now(), q).catch(() => undefined);
    throw e;
  }
  await dropScratch(db, spec, record, scratch, created, now(), q);
  const { verdict, evidence, timings } = outcome;
  // Messages name the batch the sample was judged as; the person reading them ran no batch.
  const sampleText = (text: string) => text.replace(new RegExp(`\\b${batchName(0)}\\b`, 'g'), 'the sample');
  const checks = verdict.checks.map((c) => ({ ...c, message: sampleText(c.message) }));
  return {
    backfillId: spec.backfill_id,
    target: spec.target.table,
    scratchTable: record.tableName,
    range: { start: spec.source_range.start, end: spec.source_range.end },
    grain: spec.source_range.grain,
    totalPartitions: plan.totals.partitions,
    representativePartition: plan.representativePartition,
    partitions: evidence.partitions.map((c, i) => ({
      partition: c.partition,
      oldRows: c.oldRows,
      newRows: c.newRows,
      measures: partitionFigures(spec, c),
      ...timings[i]!,
    })),
    passed: verdict.passed,
    checks,
    measures: verdict.measures.map((m) => ({
      column: m.column,
      oldSum: m.oldSum,
      newSum: m.newSum,
      deltaPct: m.deltaPct,
      expected: m.expected,
      passed: !checks.some((c) => c.measure === m.column && c.severity === 'fail' && !c.passed),
    })),
    rows: verdict.rows,
    topChangedRows: verdict.topChangedRows.slice(0, PREVIEW_CHANGED_ROWS),
    estimate: previewEstimate(timings, plan.totals.partitions, spec.execution.max_concurrency),
    warnings: plan.warnings,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Drops the scratch table if this preview created it and it is still as created, and records it
 * dropped. When the CREATE never ran (or failed), nothing is dropped and only the claim is released.
 */
async function dropScratch(
  db: Driver,
  spec: BackfillSpec,
  record: OwnedTable,
  table: TableName,
  created: boolean,
  at: string,
  q: QueryOptions,
): Promise<void> {
  // The signal may have cancelled the preview; the drop must still run.
  const o = { ...q, signal: undefined };
  if (created && (await tableExists(db, table, o))) {
    const created = (await new ControlStore(db).ownersOf(record.canonicalName, db, o))
      .find((r) => r.backfillId === spec.backfill_id && r.role === 'preview');
    const problem = created?.status === 'created' ? await identityProblem(db, spec, table, created.record, o) : null;
    if (problem) {
      refuse(
        `${record.tableName} is no longer the scratch table this preview created (${problem}); it was kept. ` +
          `Drop it yourself after checking who changed it.`,
        { table: record.tableName },
      );
    }
    await db.execute(db.dialect.dropTable(table), o);
  }
  await recordDropped(db, spec, record, at, o);
}
