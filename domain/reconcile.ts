/**
 * Reconciliation of one batch (runbook step 5): the shadow's planned partitions against production,
 * at three levels — structural, aggregate, row-level — as a plain-JSON verdict. The warehouse layer
 * measures and hands in the figures; this module only judges, so the workflow can call it and tests
 * need no database. A failed check of severity 'fail' halts the workflow; 'warn' checks are shown to
 * the approver and never stop a batch. A person may accept a failed batch only when every failed
 * check is an aggregate one (BatchVerdict.acceptable): accepting must never lose or duplicate rows.
 * Messages count batches from 1 ("batch 4" is batchIndex 3).
 */
import type { BackfillSpec, Measure } from './spec/schema';
import { formatDeltaRange, type DeltaRange } from './spec/values';

/** The parts of the spec reconciliation reads; BackfillSpec satisfies it. */
export type ReconcileSpec = Pick<BackfillSpec, 'measures' | 'validation' | 'source_range'>;

/**
 * One planned partition of the batch, production (old) against shadow (new). Labels are partition
 * starts exactly as domain/plan.ts writes them; they are matched against `plannedPartitions` as text.
 */
export interface PartitionComparison {
  partition: string;
  oldRows: number;
  /** 0 when the partition is absent from the shadow. */
  newRows: number;
  /** Distinct unique keys in the shadow partition (equal to newRows when the spec has no unique key). */
  newDistinctKeys: number;
  /** Column → count of NULLs in the shadow, for every validation.not_null column. */
  nullViolations: Record<string, number>;
  /**
 * Measure column → exact sum as decimal text; null when the slice is empty or all NULL. Every measure must
 * have a key.
 */
  oldSums: Record<string, string | null>;
  newSums: Record<string, string | null>;
}

/** A changed row, joined on the unique key; delta = new - old of `measure`. */
export interface ChangedRow {
  key: Record<string, string | number | null>;
  measure: string;
  oldValue: number | null;
  newValue: number | null;
  delta: number;
}

export interface BatchEvidence {
  batchIndex: number;
  partitions: PartitionComparison[];
  plannedPartitions: string[];
  topChangedRows: ChangedRow[];
  /** What each validation.checks[] SELECT returned for the batch (absent on evidence from before them). */
  custom?: CustomCheckResult[];
}

/** A custom check's run over one batch: the failing rows it returned (the first few kept). */
export interface CustomCheckResult {
  name: string;
  /** Rows kept (at most SPEC_LIMITS.checkRowsKept), values as text. */
  rows: Array<Record<string, string | null>>;
  /** More failing rows than were kept. */
  more: boolean;
  /** The query failed (e.g. a column that does not exist): the check fails with it. */
  error?: string;
}

/** Per-measure delta% of one partition; null where no percentage applies. */
export type PartitionDeltas = Record<string, number | null>;

/** Running totals over the batches reconciled so far. Plain JSON: it travels in workflow state. */
export interface CumulativeTotals {
  oldSums: Record<string, number>;
  newSums: Record<string, number>;
  oldRows: number;
  newRows: number;
  partitions: number;
  /**
   * Partitions at a month edge whose neighbour across the boundary belongs to a batch not yet
   * reconciled, keyed by partition label. Kept only so checkpoints written while the (since removed)
   * month-boundary check existed still read; nothing writes new entries.
   */
  monthEdges?: Record<string, PartitionDeltas>;
}

/** custom: a validation.checks[] rule; its failure is never acceptable (it may be about lost rows). */
export type CheckKind = 'structural' | 'aggregate' | 'row-level' | 'custom';

export interface Check {
  kind: CheckKind;
  name: string;
  passed: boolean;
  severity: 'fail' | 'warn';
  /** What failed, where, the figures, and what to do. One line. */
  message: string;
  /** The (first) offending partition, when the check is about partitions. */
  partition?: string;
  measure?: string;
  /** A custom check's failing rows (the first few), for the checkpoint and the report. */
  rows?: Array<Record<string, string | null>>;
}

export interface MeasureVerdict {
  column: string;
  oldSum: number;
  newSum: number;
  /** 100 * (new - old) / |old| over the batch; null when old is 0. */
  deltaPct: number | null;
  /** The same over every batch reconciled so far, this one included. */
  cumulativeDeltaPct: number | null;
  expected: { min: number; max: number };
}

export interface BatchVerdict {
  batchIndex: number;
  passed: boolean;
  /**
   * The batch failed, and only on aggregate checks: a person may accept it (resolve "accept").
   * A structural failure (lost, extra or duplicate rows, NULLs) can only be retried or aborted.
   */
  acceptable: boolean;
  checks: Check[];
  /** Totals after this batch: hand them to the next batch's reconciliation. */
  cumulative: CumulativeTotals;
  measures: MeasureVerdict[];
  /** Rows of the batch's planned partitions, production and shadow. */
  rows: { old: number; new: number };
  /** Largest changes first, at most validation.sample_rows, for the report. */
  topChangedRows: ChangedRow[];
}

/**
 * Percentage points by which two delta percentages may differ and still count as equal: it absorbs
 * the float error of 100 * (new - old) / |old| where percentages are compared with each other (the
 * report) and is far below any change a person would write a range for.
 * The pass/fail judgement of a measure (judgeDelta) works on the difference itself, not on this.
 */
export const PCT_EPSILON = 1e-6;

/** Offenders named in one message; the rest are counted, so a verdict stays small in history. */
const MAX_LISTED = 10;

/** A batch as people name it, counting from 1; batchIndex fields stay 0-based. */
export function batchName(batchIndex: number): string {
  return `batch ${batchIndex + 1}`;
}

/**
 * Whether a check leaves the batch acceptable by a person: it passed, it is a warning, or it is an
 * aggregate check (sums outside their expected range). Accepting must never publish lost or
 * duplicated rows, so a failed structural or row-level check is not acceptable.
 */
export function isAcceptable(check: Check): boolean {
  return check.passed || check.severity === 'warn' || check.kind === 'aggregate';
}

export function emptyCumulative(): CumulativeTotals {
  return { oldSums: {}, newSums: {}, oldRows: 0, newRows: 0, partitions: 0, monthEdges: {} };
}

// ---------------------------------------------------------------------------------------------
// Evidence

interface EvidenceView {
  batchIndex: number;
  /** "batch 4" for batchIndex 3: people count batches from 1. */
  batch: string;
  /** Planned labels, distinct, in plan order. */
  planned: string[];
  /** The first comparison of each planned partition that has one. */
  found: PartitionComparison[];
  byLabel: Map<string, PartitionComparison>;
  unplanned: string[];
  duplicated: string[];
}

function viewOf(evidence: BatchEvidence): EvidenceView {
  const planned = [...new Set(evidence.plannedPartitions)];
  const plannedSet = new Set(planned);
  const byLabel = new Map<string, PartitionComparison>();
  const unplanned: string[] = [];
  const duplicated: string[] = [];
  for (const c of evidence.partitions) {
    if (!plannedSet.has(c.partition)) unplanned.push(c.partition);
    else if (byLabel.has(c.partition)) duplicated.push(c.partition);
    else byLabel.set(c.partition, c);
  }
  const found = planned.flatMap((p) => {
    const c = byLabel.get(p);
    return c ? [c] : [];
  });
  return {
    batchIndex: evidence.batchIndex,
    batch: batchName(evidence.batchIndex),
    planned,
    found,
    byLabel,
    unplanned,
    duplicated,
  };
}

type SumRead = { value: number; problem: null } | { value: 0; problem: string };

/** A sum as a number: null (empty slice) is 0; an absent key or non-numeric text is a problem. */
function readSum(c: PartitionComparison, side: 'old' | 'new', column: string): SumRead {
  const sums = side === 'old' ? c.oldSums : c.newSums;
  const where = `${c.partition} ${side === 'old' ? 'production' : 'shadow'}`;
  if (!Object.hasOwn(sums, column)) return { value: 0, problem: `${where} has no sum of ${column}` };
  const text = sums[column];
  if (text === null || text === undefined) return { value: 0, problem: null };
  const value = text.trim() === '' ? Number.NaN : Number(text);
  return Number.isFinite(value)
    ? { value, problem: null }
    : { value: 0, problem: `${where} sum of ${column} is ${JSON.stringify(text)}, not a number` };
}

function sideSum(
  found: PartitionComparison[],
  side: 'old' | 'new',
  column: string,
): { sum: number; problems: string[] } {
  let sum = 0;
  const problems: string[] = [];
  for (const c of found) {
    const r = readSum(c, side, column);
    sum += r.value;
    if (r.problem) problems.push(r.problem);
  }
  return { sum, problems };
}

/**
 * The totals with one batch added: rows and the sum of every column the evidence or the totals
 * carry, over the batch's planned partitions. Unreadable sums count as 0 here; the batch's
 * measure checks fail on them. Month edges are carried over unchanged (reconcileBatch updates them).
 */
export function addBatch(before: CumulativeTotals, evidence: BatchEvidence): CumulativeTotals {
  const { found, planned } = viewOf(evidence);
  const columns = new Set([...Object.keys(before.oldSums), ...Object.keys(before.newSums)]);
  for (const c of found) for (const k of [...Object.keys(c.oldSums), ...Object.keys(c.newSums)]) columns.add(k);
  const oldSums: Record<string, number> = {};
  const newSums: Record<string, number> = {};
  for (const col of columns) {
    oldSums[col] = (before.oldSums[col] ?? 0) + sideSum(found, 'old', col).sum;
    newSums[col] = (before.newSums[col] ?? 0) + sideSum(found, 'new', col).sum;
  }
  return {
    oldSums,
    newSums,
    oldRows: before.oldRows + found.reduce((a, c) => a + c.oldRows, 0),
    newRows: before.newRows + found.reduce((a, c) => a + c.newRows, 0),
    partitions: before.partitions + planned.length,
    monthEdges: { ...(before.monthEdges ?? {}) },
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting (messages are one line; figures are plain, locale-free)

function num(x: number): string {
  return String(Number(x.toPrecision(12)));
}

function signed(x: number): string {
  const s = num(x);
  return x > 0 && s !== '0' ? `+${s}` : s;
}

/** A percentage with a sign; more digits when two decimals would print it as one of `bounds`. */
function pct(x: number | null, bounds: number[] = []): string {
  if (x === null) return 'n/a';
  let digits = 2;
  while (digits < 8 && bounds.some((b) => Number(x.toFixed(digits)) === b && x !== b)) digits++;
  const zero = (0).toFixed(digits);
  const s = Math.abs(x) < 0.5 * 10 ** -digits ? zero : x.toFixed(digits);
  return `${x > 0 && s !== zero ? '+' : ''}${s}%`;
}

function listed(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).join('; ');
  return items.length > MAX_LISTED ? `${shown}; and ${items.length - MAX_LISTED} more` : shown;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function keyText(key: ChangedRow['key']): string {
  return Object.entries(key).map(([k, v]) => `${k}=${v === null ? 'NULL' : v}`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Structural

/** Production has rows, the shadow none: the fix emptied the partition, or the write lost it. */
const emptied = (c: PartitionComparison) => c.oldRows > 0 && c.newRows <= 0;

const EMPTY_HINT =
  'if the fix legitimately empties partitions (e.g. it removes test data), ' +
  'set validation.allow_empty_partitions: true in a new run';

function partitionsPresent(v: EvidenceView, allowEmpty: boolean): Check {
  const base = { kind: 'structural', name: 'partitions-present', severity: 'fail' } as const;
  if (v.planned.length === 0) {
    return {
      ...base,
      passed: false,
      message:
        `${v.batch} has no planned partitions to reconcile; a batch never passes vacuously — ` +
        `the plan or the evidence is wrong, so recompute the batch's partitions from the plan and rerun reconciliation`,
    };
  }
  const missing: Array<{ partition: string; text: string; emptied: boolean }> = [];
  for (const p of v.planned) {
    const c = v.byLabel.get(p);
    if (!c) {
      missing.push({ partition: p, text: `${p} (no comparison was made)`, emptied: false });
    } else if (emptied(c) && !allowEmpty) {
      missing.push({ partition: p, text: `${p} (production ${c.oldRows} rows, shadow 0)`, emptied: true });
    }
  }
  const problems: string[] = [];
  if (missing.length) {
    const hint = missing.some((m) => m.emptied) ? `; ${EMPTY_HINT}` : '';
    problems.push(
      `${missing.length} of ${v.planned.length} planned partitions are missing from the shadow: ` +
        `${listed(missing.map((m) => m.text))}; rerun those partitions of ${v.batch} — ` +
        `a batch never passes with a planned partition absent${hint}`,
    );
  }
  if (v.unplanned.length) {
    problems.push(
      `the evidence covers partitions outside ${v.batch}'s plan: ${listed([...new Set(v.unplanned)])}; ` +
        `the comparison must cover exactly the planned partitions`,
    );
  }
  if (v.duplicated.length) {
    problems.push(
      `partitions compared more than once: ${listed([...new Set(v.duplicated)])}; ` +
        `the comparison must return one row per partition`,
    );
  }
  if (problems.length === 0) {
    const empty = v.found.filter((c) => c.oldRows <= 0 && c.newRows <= 0).length;
    const cleared = v.found.filter(emptied).length;
    const notes = [
      ...(empty ? [`${empty} empty in production and shadow`] : []),
      ...(cleared
        ? [`${cleared} emptied by the fix, allowed by validation.allow_empty_partitions (see emptied-partitions)`]
        : []),
    ];
    return {
      ...base,
      passed: true,
      message:
        `all ${v.planned.length} planned partitions of ${v.batch} are ` +
        `present${notes.length ? ` (${notes.join('; ')})` : ''}`,
    };
  }
  const first = missing[0]?.partition ?? v.unplanned[0] ?? v.duplicated[0];
  return { ...base, passed: false, message: problems.join('. '), ...(first ? { partition: first } : {}) };
}

function rowCount(v: EvidenceView, tolerance: number, allowEmpty: boolean): Check {
  const base = { kind: 'structural', name: 'row-count', severity: 'fail' } as const;
  const tolText = tolerance === 0 ? '0 (exact)' : `${num(tolerance)} (${num(tolerance * 100)}%)`;
  // The slack absorbs float error in tolerance * oldRows (0.29 * 100 is 28.999999999999996).
  const allowed = (c: PartitionComparison) => Math.floor(tolerance * c.oldRows + 1e-9);
  const offenders = v.found.filter((c) => Math.abs(c.newRows - c.oldRows) > allowed(c) && !(allowEmpty && emptied(c)));
  const oldRows = v.found.reduce((a, c) => a + c.oldRows, 0);
  const newRows = v.found.reduce((a, c) => a + c.newRows, 0);
  if (offenders.length === 0) {
    const cleared = allowEmpty ? v.found.filter(emptied).length : 0;
    const scope = cleared
      ? `the ${v.found.length - cleared} compared partitions of ${v.batch} that the fix did not empty ` +
        `(${cleared} emptied, allowed by validation.allow_empty_partitions)`
      : `all ${v.found.length} compared partitions of ${v.batch}`;
    return {
      ...base,
      passed: true,
      message:
        `row counts within row_count_tolerance ${tolText} in ${scope} (production ${oldRows}, shadow ${newRows})`,
    };
  }
  const items = offenders.map(
    (c) =>
      `${c.partition}: production ${c.oldRows}, shadow ${c.newRows} (${signed(c.newRows - c.oldRows)}, ` +
      `allowed ±${allowed(c)})`,
  );
  const hint = offenders.some(emptied) ? `; ${EMPTY_HINT}` : '';
  return {
    ...base,
    passed: false,
    partition: offenders[0]!.partition,
    message:
      `row counts differ beyond row_count_tolerance ${tolText} in ${offenders.length} of ${v.found.length} ` +
      `partitions of ${v.batch}: ${listed(items)}; compare the keys of production and shadow in those partitions ` +
      `to find the lost or extra rows and fix the transform — raise validation.row_count_tolerance only ` +
      `if the grain legitimately changed${hint}`,
  };
}

/** With validation.allow_empty_partitions: the partitions the fix emptied, for the approver to confirm. */
function emptiedPartitions(v: EvidenceView): Check {
  const base = { kind: 'structural', name: 'emptied-partitions', severity: 'warn' } as const;
  const cleared = v.found.filter(emptied);
  if (cleared.length === 0) {
    return {
      ...base,
      passed: true,
      message: `no planned partition of ${v.batch} was emptied (validation.allow_empty_partitions is true)`,
    };
  }
  const items = cleared.map((c) => `${c.partition} (production ${c.oldRows} rows, shadow 0)`);
  return {
    ...base,
    passed: false,
    partition: cleared[0]!.partition,
    message:
      `${cleared.length} of ${v.planned.length} planned partitions of ${v.batch} hold no rows in the shadow: ` +
      `${listed(items)}; validation.allow_empty_partitions is true, so they pass — ` +
      `confirm the fix is meant to empty them before approving (warning: the batch is not failed)`,
  };
}

function uniqueKey(v: EvidenceView): Check {
  const base = { kind: 'structural', name: 'unique-key', severity: 'fail' } as const;
  const offenders = v.found.filter((c) => c.newDistinctKeys !== c.newRows);
  if (offenders.length === 0) {
    return {
      ...base,
      passed: true,
      message: `unique key is unique in all ${v.found.length} compared partitions of ${v.batch}`,
    };
  }
  const items = offenders.map((c) =>
    c.newDistinctKeys < c.newRows
      ? `${c.partition}: ${c.newRows} rows but ${c.newDistinctKeys} distinct keys ` +
        `(${c.newRows - c.newDistinctKeys} duplicate rows)`
      : `${c.partition}: ${c.newDistinctKeys} distinct keys but only ${c.newRows} rows (inconsistent evidence)`,
  );
  return {
    ...base,
    passed: false,
    partition: offenders[0]!.partition,
    message:
      `unique key is not unique in the shadow in ${offenders.length} of ${v.found.length} partitions ` +
      `of ${v.batch}: ${listed(items)}; find the keys with count(*) > 1 in those partitions (target.unique_key), ` +
      `fix the join or deduplication in the transform, and rerun the batch`,
  };
}

function notNull(v: EvidenceView, required: string[]): Check {
  const base = { kind: 'structural', name: 'not-null', severity: 'fail' } as const;
  const items: string[] = [];
  let first: string | undefined;
  for (const c of v.found) {
    const before = items.length;
    for (const [column, count] of Object.entries(c.nullViolations)) {
      if (count !== 0) items.push(`${c.partition}: ${column} has ${count} NULLs`);
    }
    if (c.newRows > 0) {
      for (const column of required) {
        if (!Object.hasOwn(c.nullViolations, column)) {
          items.push(
            `${c.partition}: no NULL count for required column ${column} ` +
              `(the comparison must count every validation.not_null column)`,
          );
        }
      }
    }
    if (items.length > before) first ??= c.partition;
  }
  if (items.length === 0) {
    const what = required.length ? `required columns (${required.join(', ')})` : 'required columns';
    return {
      ...base,
      passed: true,
      message: `${what} hold no NULLs in the ${v.found.length} compared partitions of ${v.batch}`,
    };
  }
  return {
    ...base,
    passed: false,
    ...(first ? { partition: first } : {}),
    message:
      `required columns are not all non-null in the shadow of ${v.batch}: ${listed(items)}; ` +
      `fix the transform so it fills those columns (or filters such rows upstream) and rerun the batch`,
  };
}

// ---------------------------------------------------------------------------------------------
// Aggregate

export interface DeltaJudgement {
  /** 100 * (new - old) / |old|; null when old is 0. */
  deltaPct: number | null;
  /** |new - old| is within abs_tolerance: the measure did not change, beyond float noise. */
  withinTolerance: boolean;
  /** new - old lies in the allowed interval (see judgeDelta). */
  passed: boolean;
}

/**
 * Expectations mean what they say: new - old must lie in
 *   [min% * |old| / 100 - abs_tolerance - slack, max% * |old| / 100 + abs_tolerance + slack],
 * where slack = 4 * EPSILON * max(|old|, |new|) covers the rounding of the subtraction and of the
 * bounds. abs_tolerance only absorbs float noise around the bounds (data-diff#649), so a measure
 * that did not move fails a range that excludes 0 ("-1.5% to -0.8%"), and a "0%" range passes a
 * difference within abs_tolerance. With old 0 the interval is [-abs_tolerance, +abs_tolerance].
 */
export function judgeDelta(
  m: Pick<Measure, 'expected_delta' | 'abs_tolerance'>,
  oldSum: number,
  newSum: number,
): DeltaJudgement {
  const diff = newSum - oldSum;
  const slack = 4 * Number.EPSILON * Math.max(Math.abs(oldSum), Math.abs(newSum));
  const scale = Math.abs(oldSum) / 100;
  const low = m.expected_delta.min * scale - m.abs_tolerance - slack;
  const high = m.expected_delta.max * scale + m.abs_tolerance + slack;
  return {
    deltaPct: oldSum === 0 ? null : (100 * diff) / Math.abs(oldSum),
    withinTolerance: Math.abs(diff) <= m.abs_tolerance + slack,
    passed: diff >= low && diff <= high,
  };
}

/**
 * Which band a judgement uses: the whole range (expected_delta; a warning on the running total, a
 * failure at the completion check), one batch (batch_delta, else expected_delta) or one partition.
 */
export type DeltaScope = 'range' | 'batch' | 'partition';

/** Where the spec sets this measure's expected range, for "what to do". */
function expectedPath(spec: ReconcileSpec, column: string): string {
  if (spec.validation.measures?.[column]) return `validation.measures.${column}.expected_delta`;
  if (column === spec.validation.revenue_measure && spec.validation.revenue_delta_expected) {
    return 'validation.revenue_delta_expected';
  }
  return `the expected_delta of ${column}`;
}

/** A measure's band for a scope, and where the spec sets it (said in every message). */
export function bandOf(
  spec: ReconcileSpec,
  m: Measure,
  scope: DeltaScope,
): { band: DeltaRange; path: string; name: string } {
  if (scope === 'partition' && m.partition_delta) {
    return { band: m.partition_delta, path: `validation.measures.${m.column}.partition_delta`, name: 'partition band' };
  }
  if (scope === 'batch') {
    if (m.batch_delta) {
      return { band: m.batch_delta, path: `validation.measures.${m.column}.batch_delta`, name: 'batch band' };
    }
    // No batch band: the whole range's expectation applies to every batch (set batch_delta to loosen it).
    return { band: m.expected_delta, path: expectedPath(spec, m.column), name: 'expected' };
  }
  return { band: m.expected_delta, path: expectedPath(spec, m.column), name: 'expected' };
}

function measureCheck(
  spec: ReconcileSpec,
  m: Measure,
  scope: {
    name: string; scope: DeltaScope; where: string; oldSum: number; newSum: number; problems: string[];
    severity?: 'fail' | 'warn';
  },
): { check: Check; judgement: DeltaJudgement } {
  const base = { kind: 'aggregate', name: scope.name, severity: scope.severity ?? 'fail', measure: m.column } as const;
  const { band, path, name: bandName } = bandOf(spec, m, scope.scope);
  const judgement = judgeDelta({ expected_delta: band, abs_tolerance: m.abs_tolerance }, scope.oldSum, scope.newSum);
  const range = `${bandName} ${formatDeltaRange(band)}`;
  const figures =
    `production ${num(scope.oldSum)}, shadow ${num(scope.newSum)}, ` +
    `difference ${signed(scope.newSum - scope.oldSum)}`;
  if (scope.problems.length) {
    return {
      judgement: { ...judgement, passed: false },
      check: {
        ...base,
        passed: false,
        message:
          `${m.column} cannot be reconciled ${scope.where}: ${listed(scope.problems)}; ` +
          `the comparison must sum every measure for every planned partition — fix it and rerun reconciliation`,
      },
    };
  }
  const { deltaPct, withinTolerance, passed } = judgement;
  const { min, max } = band;
  const tolerance = `abs_tolerance ${num(m.abs_tolerance)}`;
  let message: string;
  if (passed) {
    if (withinTolerance && (deltaPct === null || (min <= 0 && max >= 0))) {
      message = `${m.column} unchanged ${scope.where} (${figures}): the difference is within ${tolerance}`;
    } else if (deltaPct !== null && deltaPct >= min - PCT_EPSILON && deltaPct <= max + PCT_EPSILON) {
      message = `${m.column} changed ${pct(deltaPct)} ${scope.where} (${figures}), within the ${range}`;
    } else {
      message =
        `${m.column} changed ${pct(deltaPct, [min, max])} ${scope.where} (${figures}), within ${tolerance} ` +
        `of the ${range}`;
    }
  } else if (withinTolerance && deltaPct !== null) {
    message =
      `${m.column} did not change ${scope.where} (${figures}), but ${path} expects ` +
      `${formatDeltaRange(band)}; the fix did not take effect — check the transform (is the fixed version deployed, ` +
      `does it read the corrected inputs?) and rerun the batch, or, if this measure should not move, ` +
      `correct the expected range and start a new run`;
  } else if (deltaPct === null) {
    message =
      `${m.column} changed ${scope.where} from a production sum of 0 (${figures}), so no percentage applies ` +
      `and the difference exceeds abs_tolerance ${num(m.abs_tolerance)}; ` +
      `read the top changed rows to see where the new values come from, and fix the transform or the spec`;
  } else {
    message =
      `${m.column} changed ${pct(deltaPct, [band.min, band.max])} ${scope.where} ` +
      `(${figures}), outside the ${range} (${path}; ` +
      `abs_tolerance ${num(m.abs_tolerance)}); read the top changed rows to see what moved — ` +
      `fix the transform and rerun the batch, or, if the change is intended, ` +
      `correct the ${bandName === 'expected' ? 'expected range' : bandName} and start a new run`;
  }
  return { judgement, check: { ...base, passed, message } };
}

// ---------------------------------------------------------------------------------------------
// Partition bands and custom checks
//
// A partition band (partition_delta) judges every partition of the batch on its own: the check
// fails naming the partitions outside it, with their figures. Partitions empty on either side, or
// whose sums cannot be read, are left to the structural checks. (The month-boundary warning that
// was here is replaced by change-point detection over the whole range at the completion check:
// domain/change-points.ts.)

function partitionBands(spec: ReconcileSpec, m: Measure, v: EvidenceView): Check {
  const { band, path, name } = bandOf(spec, m, 'partition');
  const base = { kind: 'aggregate', name: 'measure-delta-partition', severity: 'fail', measure: m.column } as const;
  const outside: Array<{ partition: string; deltaPct: number | null; diff: number }> = [];
  let judged = 0;
  for (const c of v.found) {
    if (c.oldRows <= 0 || c.newRows <= 0) continue;
    const o = readSum(c, 'old', m.column);
    const n = readSum(c, 'new', m.column);
    if (o.problem || n.problem) continue;
    judged++;
    const j = judgeDelta({ expected_delta: band, abs_tolerance: m.abs_tolerance }, o.value, n.value);
    if (!j.passed) outside.push({ partition: c.partition, deltaPct: j.deltaPct, diff: n.value - o.value });
  }
  if (outside.length === 0) {
    return {
      ...base, passed: true,
      message: `${m.column}: all ${judged} partitions of ${v.batch} within the ${name} ${formatDeltaRange(band)}`,
    };
  }
  const items = outside.map((x) =>
    `${x.partition} ${x.deltaPct === null ? `${signed(x.diff)} from 0` : pct(x.deltaPct, [band.min, band.max])}`);
  return {
    ...base,
    passed: false,
    partition: outside[0]!.partition,
    message:
      `${m.column}: ${plural(outside.length, 'partition')} of ${v.batch} outside the ${name} ` +
      `${formatDeltaRange(band)} (${path}): ${listed(items)}; read those partitions' changed rows — fix the ` +
      `transform and rerun the batch, or, if the change is intended, correct the band and start a new run`,
  };
}

/** The spec's custom checks over the batch: zero rows returned is a pass. Never acceptable when failed. */
function customChecks(spec: ReconcileSpec, batch: string, results: CustomCheckResult[] | undefined): Check[] {
  const byName = new Map((results ?? []).map((r) => [r.name, r]));
  return (spec.validation.checks ?? []).map((c) => {
    const base = { kind: 'custom', name: c.name, severity: c.severity } as const;
    const r = byName.get(c.name);
    if (!r) {
      const message = `${c.name} (${c.description}) did not run for ${batch}; rerun the batch`;
      return { ...base, passed: false, message };
    }
    if (r.error) {
      return {
        ...base, passed: false,
        message: `${c.name} (${c.description}) failed to run for ${batch}: ${r.error}; fix validation.checks ` +
          `(${c.name}) and start a new run`,
      };
    }
    if (r.rows.length === 0) return { ...base, passed: true, message: `${c.name}: no failing rows in ${batch}` };
    const first = Object.entries(r.rows[0]!).map(([k, val]) => `${k}=${val ?? 'NULL'}`).join(', ');
    const count = r.more ? `more than ${plural(r.rows.length, 'row')}` : plural(r.rows.length, 'row');
    return {
      ...base,
      passed: false,
      rows: r.rows,
      message:
        `${c.name} (${c.description}) returned ${count} in ${batch}, first: ${first}` +
        (c.severity === 'fail'
          ? '; the rows are in the checkpoint — fix the transform and retry the batch, or abort'
          : ' (warning: the batch is not failed)'),
    };
  });
}

/**
 * The whole range against each measure's expected_delta, at the completion check: `partitions` are
 * every checkpointed partition. A failure halts before approval; it is aggregate, so an approver
 * may accept it.
 */
export function judgeRange(spec: ReconcileSpec, partitions: PartitionComparison[]): Check[] {
  return spec.measures.map((m) => {
    const oldSide = sideSum(partitions, 'old', m.column);
    const newSide = sideSum(partitions, 'new', m.column);
    return measureCheck(spec, m, {
      name: 'measure-delta-range',
      scope: 'range',
      where: `over the whole range (${plural(partitions.length, 'partition')})`,
      oldSum: oldSide.sum,
      newSum: newSide.sum,
      problems: [...oldSide.problems, ...newSide.problems],
    }).check;
  });
}

/** Each measure's per-partition delta% in partition order (null where none applies), for change-points. */
export function partitionDeltaSeries(
  measures: Measure[],
  partitions: PartitionComparison[],
): Record<string, Array<{ partition: string; deltaPct: number | null }>> {
  const sorted = [...partitions].sort((a, b) => (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0));
  const out: Record<string, Array<{ partition: string; deltaPct: number | null }>> = {};
  for (const m of measures) out[m.column] = [];
  for (const c of sorted) {
    const deltas = partitionDeltas(measures, c);
    for (const m of measures) out[m.column]!.push({ partition: c.partition, deltaPct: deltas[m.column] ?? null });
  }
  return out;
}

function partitionDeltas(measures: Measure[], c: PartitionComparison | undefined): PartitionDeltas {
  const out: PartitionDeltas = {};
  for (const m of measures) {
    if (!c || c.oldRows <= 0 || c.newRows <= 0) {
      out[m.column] = null;
      continue;
    }
    const o = readSum(c, 'old', m.column);
    const n = readSum(c, 'new', m.column);
    if (o.problem || n.problem) {
      out[m.column] = null;
      continue;
    }
    const j = judgeDelta(m, o.value, n.value);
    out[m.column] = j.withinTolerance ? 0 : j.deltaPct;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Row level

function topChanged(spec: ReconcileSpec, batch: string, rows: ChangedRow[]): { check: Check; rows: ChangedRow[] } {
  const base = { kind: 'row-level', name: 'top-changed', severity: 'warn', passed: true } as const;
  const tolerance = new Map(spec.measures.map((m) => [m.column, m.abs_tolerance]));
  // A row that moved by no more than its measure's abs_tolerance is float noise, not a change.
  const changed = rows.filter((r) => Number.isFinite(r.delta) && Math.abs(r.delta) > (tolerance.get(r.measure) ?? 0));
  const noise = rows.length - changed.length;
  const sorted = [...changed].sort(
    (a, b) =>
      Math.abs(b.delta) - Math.abs(a.delta) ||
      a.measure.localeCompare(b.measure) ||
      JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)),
  );
  const kept = sorted.slice(0, Math.max(0, spec.validation.sample_rows)).map((r) => ({ ...r, key: { ...r.key } }));
  const noiseText = noise ? `; ${plural(noise, 'row')} within abs_tolerance left out as float noise` : '';
  const largest = sorted[0];
  let message: string;
  if (!largest) message = `no row changed beyond its measure's abs_tolerance in ${batch}${noiseText}`;
  else {
    const what =
      `${largest.measure} ${signed(largest.delta)} at ${keyText(largest.key)} ` +
      `(${largest.oldValue === null ? 'NULL' : num(largest.oldValue)} → ` +
      `${largest.newValue === null ? 'NULL' : num(largest.newValue)})`;
    message = kept.length
      ? `kept the ${kept.length} largest of ${plural(sorted.length, 'changed row')} in ${batch} for the report; ` +
        `largest: ${what}${noiseText}`
      : `validation.sample_rows is 0, so none of the ${plural(sorted.length, 'changed row')} in ${batch} is kept; ` +
        `largest: ${what}${noiseText}`;
  }
  return { rows: kept, check: { ...base, message, ...(largest ? { measure: largest.measure } : {}) } };
}

// ---------------------------------------------------------------------------------------------

/**
 * Judges one batch. `cumulativeBefore` holds the batches reconciled before this one; the verdict's
 * `cumulative` includes this batch and is what the next batch receives (when a batch is rerun, pass
 * the totals from before its first attempt again).
 */
export function reconcileBatch(
  spec: ReconcileSpec,
  evidence: BatchEvidence,
  cumulativeBefore: CumulativeTotals,
): BatchVerdict {
  const v = viewOf(evidence);
  const cumulative = addBatch(cumulativeBefore, evidence);
  const where = `in ${v.batch}`;
  const allowEmpty = spec.validation.allow_empty_partitions === true;
  const checks: Check[] = [
    partitionsPresent(v, allowEmpty),
    rowCount(v, spec.validation.row_count_tolerance, allowEmpty),
    ...(allowEmpty ? [emptiedPartitions(v)] : []),
    uniqueKey(v),
    notNull(v, spec.validation.not_null ?? []),
  ];

  const measures: MeasureVerdict[] = [];
  if (spec.measures.length === 0) {
    checks.push({
      kind: 'aggregate',
      name: 'measure-delta',
      severity: 'warn',
      passed: true,
      message:
        'no measure has an expected delta, so only row counts were reconciled; add validation.measures to check sums',
    });
  }
  for (const m of spec.measures) {
    const oldSide = sideSum(v.found, 'old', m.column);
    const newSide = sideSum(v.found, 'new', m.column);
    const problems = [...oldSide.problems, ...newSide.problems];
    const batch = measureCheck(spec, m, {
      name: 'measure-delta',
      scope: 'batch',
      where,
      oldSum: oldSide.sum,
      newSum: newSide.sum,
      problems,
    });
    // The whole range's expectation, on the running total: a warning here (a batch of an uneven
    // range may legitimately sit outside it); the completion check judges the whole range and fails.
    const cum = measureCheck(spec, m, {
      name: 'measure-delta-cumulative',
      scope: 'range',
      severity: 'warn',
      where: `over the ${cumulative.partitions} partitions reconciled so far`,
      oldSum: cumulative.oldSums[m.column] ?? 0,
      newSum: cumulative.newSums[m.column] ?? 0,
      problems: problems.length ? [`${v.batch}'s sums are unreadable (see measure-delta)`] : [],
    });
    checks.push(batch.check, cum.check);
    if (m.partition_delta) checks.push(partitionBands(spec, m, v));
    const band = bandOf(spec, m, 'batch').band;
    measures.push({
      column: m.column,
      oldSum: oldSide.sum,
      newSum: newSide.sum,
      deltaPct: batch.judgement.deltaPct,
      cumulativeDeltaPct: cum.judgement.deltaPct,
      expected: { min: band.min, max: band.max },
    });
  }

  checks.push(...customChecks(spec, v.batch, evidence.custom));

  const top = topChanged(spec, v.batch, evidence.topChangedRows);
  checks.push(top.check);

  const passed = checks.every((c) => c.passed || c.severity === 'warn');
  return {
    batchIndex: v.batchIndex,
    passed,
    acceptable: !passed && checks.every(isAcceptable),
    checks,
    cumulative,
    measures,
    rows: { old: v.found.reduce((a, c) => a + c.oldRows, 0), new: v.found.reduce((a, c) => a + c.newRows, 0) },
    topChangedRows: top.rows,
  };
}

/** One line for logs and status. */
export function summarizeVerdict(v: BatchVerdict): string {
  const failed = v.checks.filter((c) => !c.passed && c.severity === 'fail');
  if (failed.length) {
    const more =
      failed.length > 1 ? ` (+${failed.length - 1} more failed: ${failed.slice(1).map((c) => c.name).join(', ')})` : '';
    return `${batchName(v.batchIndex)} FAILED: ${failed[0]!.message}${more}`;
  }
  const measures = v.measures.map(
    (m) =>
      `${m.column} ${m.deltaPct === null ? 'n/a (production 0)' : pct(m.deltaPct)} (cum ${pct(m.cumulativeDeltaPct)})`,
  );
  const rows = v.rows.old === v.rows.new ? `rows ${v.rows.old}=${v.rows.new}` : `rows ${v.rows.old}→${v.rows.new}`;
  const warnings = v.checks.filter((c) => !c.passed);
  const warned = warnings.length
    ? `; ${plural(warnings.length, 'warning')}: ${warnings.map((c) => c.name).join(', ')}`
    : '';
  return `${batchName(v.batchIndex)} passed: ${[...measures, rows].join(', ')}${warned}`;
}
