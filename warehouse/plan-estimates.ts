/**
 * Everything the planner asks the warehouse: does the target have the columns the spec names,
 * how many rows each partition holds, and what reading one partition costs.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import {
  buildPlan, combineReads, planShape, samplePartitions, type Plan, type PlanEstimates, type SampleRead,
} from '../domain/plan';
import { partitionAtOrdinal, partitionOrdinal } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';
import { compileTransform } from '../domain/transform-sql';
import { describeTable } from './catalog';
import { parseTableName } from './identifiers';
import { checkOwnership } from './ownership';
import type { ColumnInfo, Driver, QueryOptions } from './warehouse';

/** Refuses with MissingObject, naming the YAML path, when the target or a column the spec names is absent. */
export async function checkTargetColumns(db: Driver, spec: BackfillSpec, opts?: QueryOptions): Promise<ColumnInfo[]> {
  const columns = await describeTable(db, spec.target.table, opts);
  if (columns.length === 0) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      `target.table: ${spec.target.table} does not exist in the ${db.dialect.name} warehouse; check the name, ` +
        `or create it before backfilling.`,
      { path: 'target.table' },
    );
  }
  const have = new Set(columns.map((c) => c.name));
  const named: Array<[string, string]> = [
    ['target.partition_key', spec.target.partition_key],
    ...(spec.target.unique_key ?? []).map((c, i): [string, string] => [`target.unique_key[${i}]`, c]),
    ...spec.target.audit_columns.map((c, i): [string, string] => [`target.audit_columns[${i}]`, c]),
    ...spec.validation.not_null.map((c, i): [string, string] => [`validation.not_null[${i}]`, c]),
    ...spec.measures.map((m): [string, string] => [`validation.measures.${m.column}`, m.column]),
  ];
  const missing = named.filter(([, c]) => !have.has(c));
  if (missing.length) {
    throw new BackfillFailure(
      BackfillError.MissingObject,
      missing.map(([path, c]) => `${path}: column ${c} does not exist in ${spec.target.table}`).join('; ') +
        ` (its columns: ${[...have].join(', ')}); fix the spec.`,
      { paths: missing.map(([p]) => p) },
    );
  }
  return columns;
}

/**
 * What `backfill plan` prints, nothing recorded: the refusals a run would meet before its first
 * write (table ownership) first, then the estimates. The CLI runs it on the file, or the worker
 * (workflows/tools.ts) while it holds the file.
 */
export async function previewPlan(db: Driver, spec: BackfillSpec, sample: boolean): Promise<Plan> {
  const opts = { tag: { backfillId: spec.backfill_id, phase: 'plan' }, timeoutMs: spec.execution.query_timeout };
  await checkOwnership(db, spec, opts);
  return estimatePlan(db, spec, { ...opts, sample: sample && Boolean(spec.transform) });
}

export interface EstimateOptions extends QueryOptions {
  /**
   * Read the transform for the sample partitions to estimate bytes (the engine's storage size of
   * what it reads: Driver.explain) and time.
   */
  sample?: boolean;
}

export async function estimatePlan(db: Driver, spec: BackfillSpec, opts: EstimateOptions = {}): Promise<Plan> {
  await checkTargetColumns(db, spec, opts);
  const shape = planShape(spec);
  const { grain } = spec.source_range;
  const from = partitionAtOrdinal(shape.firstOrdinal, grain).start;
  const to = partitionAtOrdinal(shape.lastOrdinal, grain).end;
  const table = parseTableName(spec.target.table, 'target.table');
  const rows = await db.query(db.dialect.rowsPerPartition(table, spec.target.partition_key, grain, from, to), opts);
  const rowsByPartition: Record<string, number> = {};
  for (const r of rows) rowsByPartition[String(r.partition_start)] = Number(r.row_count);

  let sample: PlanEstimates['sample'] = null;
  if (opts.sample && spec.transform) {
    // Several partitions, one after another (a read alone varied from 3 ms to 100 ms between runs).
    const compiled = compileTransform(spec.transform.sql, (i) => db.dialect.boundValue(i, grain));
    const reads: SampleRead[] = [];
    for (const partition of samplePartitions(spec, rowsByPartition)) {
      const bounds = partitionAtOrdinal(partitionOrdinal(partition, grain)!, grain);
      const started = performance.now();
      const scan = await db.explain({ sql: compiled.sql, params: [bounds.start, bounds.end] }, opts);
      reads.push({
        partition,
        rows: scan.rows,
        bytes: scan.bytes,
        ...(scan.bytesBasis !== null && { bytesBasis: scan.bytesBasis }),
        seconds: scan.seconds ?? (performance.now() - started) / 1000,
        measured: scan.seconds !== null,
      });
    }
    sample = combineReads(reads, rowsByPartition);
  }
  const plan = buildPlan(spec, { rowsByPartition, sample, pricePerHour: db.pricePerHour });
  if (db.retention) plan.warnings.push(...retentionWarnings(spec, await db.retention(table, opts)));
  return plan;
}

const DAY_MS = 86_400_000;

/**
 * Time Travel is the warehouse's own safety net behind the snapshot: warn when the rollback window
 * outlives it, or when the target is transient (0–1 day of Time Travel and no Fail-safe).
 */
export function retentionWarnings(
  spec: BackfillSpec,
  retention: { days: number; transient: boolean } | null,
): string[] {
  if (!retention) return [];
  const warnings: string[] = [];
  const windowDays = spec.rollback.window / DAY_MS;
  if (retention.transient) {
    warnings.push(
      `${spec.target.table} is a transient table (Time Travel ${retention.days} day(s), no Fail-safe), ` +
        `and so is a clone of it; the snapshot ${spec.rollback.snapshot} is the only restore point — keep ` +
        `rollback.cleanup: after_signoff.`,
    );
  }
  if (retention.days * DAY_MS < spec.rollback.window) {
    warnings.push(
      `rollback.window (${+windowDays.toFixed(2)} days) is longer than ${spec.target.table}'s Time Travel retention ` +
        `(${retention.days} day(s)): after that only the snapshot ${spec.rollback.snapshot} can restore the range. ` +
        `Raise DATA_RETENTION_TIME_IN_DAYS or shorten the window.`,
    );
  }
  return warnings;
}
