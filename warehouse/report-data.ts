/**
 * Gathers the reconciliation report (contracts/report.ts) from the control schema alone: the
 * recorded plan and spec, every batch's checkpoint with its provenance, the audit log and the
 * release. No workflow is asked, so a report can be written for a run that finished, failed or
 * is still waiting — and long after its workflow history is gone.
 *
 * Totals, series and top changed rows cover the checkpoints that count: passing or accepted, and
 * written by the recorded plan's code version (checkpoints of an earlier code version are listed
 * as stale and left out). Totals are the per-batch sums added in batch order, as the workflow adds
 * them, and judged with the same rule as the `report` query (domain/report.ts).
 */
import type {
  ReportApproval,
  ReportAuditEntry,
  ReportBatch,
  ReportChangedRow,
  ReportCustomCheck,
  ReportData,
  ReportMonitor,
  ReportPlan,
  ReportPoint,
  ReportRollback,
  ReportSeries,
  ReportSpec,
  ReportState,
} from '../contracts/report';
import type { ReleaseRecord } from '../contracts/status';
import { changePoints } from '../domain/change-points';
import { partitionDeltaSeries, type CumulativeTotals } from '../domain/reconcile';
import { measureReports } from '../domain/report';
import type { BackfillSpec } from '../domain/spec/schema';
import { tableExists } from './catalog';
import { CONTROL_SCHEMA, ControlStore, isoTimestamp, type AuditEntry, type Checkpoint } from './control-store';
import type { Driver, QueryOptions } from './warehouse';

/** Changed rows kept in the report, largest |delta| first. */
export const REPORT_TOP_ROWS = 50;
/** Audit notes are one line; long problem lists are cut here. */
const NOTE_CHARS = 240;

/** The report of `backfillId`, or null when no plan was recorded for it (or there is no control schema). */
export async function gatherReportData(
  db: Driver,
  backfillId: string,
  opts?: QueryOptions,
): Promise<ReportData | null> {
  const control = new ControlStore(db);
  if (!(await tableExists(db, control.table('plans'), opts))) return null;
  const [row] = await db.query(
    {
      sql: `SELECT spec_json, plan_json, CAST(recorded_at AS VARCHAR) AS recorded_at FROM ` +
        `${db.dialect.table(control.table('plans'))} WHERE backfill_id = ${db.dialect.placeholder(1)}`,
      params: [backfillId],
    },
    opts,
  );
  if (!row) return null;
  const recorded = JSON.parse(String(row.spec_json)) as BackfillSpec;
  const planJson = JSON.parse(String(row.plan_json)) as Record<string, unknown>;
  const checkpoints = await control.checkpoints(backfillId, opts);
  const audit = await auditOf(control, backfillId, opts);
  const release = await control.releaseOf(backfillId, opts);
  const generatedAt = new Date().toISOString();

  const spec = specEssentials(recorded);
  const batches = checkpoints.map((c) => batchOf(c, spec.codeVersion));
  const counted = checkpoints.filter((_, i) => !batches[i]!.stale && batches[i]!.verdict !== 'failed');
  const cumulative = totalsOf(counted);
  const plan = planOf(planJson, String(row.recorded_at), audit);
  const current = batches.filter((b) => !b.stale);
  const state = stateOf(plan, current, audit, release);

  return {
    version: 1,
    generatedAt,
    spec,
    state: state.state,
    stateSince: state.since,
    plan,
    batches: {
      planned: plan.batches,
      checkpointed: current.length,
      passed: current.filter((b) => b.verdict === 'passed').length,
      failed: current.filter((b) => b.verdict === 'failed').length,
      accepted: current.filter((b) => b.verdict === 'accepted').length,
      stale: batches.length - current.length,
      items: batches,
    },
    coverage: { partitions: cumulative.partitions, rows: { old: cumulative.oldRows, new: cumulative.newRows } },
    measures: measureReports(recorded, cumulative).map((m) => ({ ...m, delta: m.newSum - m.oldSum })),
    series: seriesOf(spec, counted),
    topChangedRows: topRows(counted),
    warnings: [...new Set(current.flatMap((b) => b.warnings))],
    proof: proofOf(audit),
    approval: approvalOf(spec.approval?.approvers ?? [], audit),
    release,
    rollback: rollbackOf(spec, audit, release, generatedAt),
    timeline: timelineOf(audit),
    checks: customChecksOf(recorded, checkpoints.filter((_, i) => !batches[i]!.stale)),
    monitors: monitorsOf(recorded, audit),
  };
}

/** The audit log of `id` (a backfill, or a release for its own entries), oldest first, times in ISO. */
export async function auditOf(control: ControlStore, id: string, opts?: QueryOptions): Promise<AuditEntry[]> {
  return (await control.auditTrail(id, opts)).map((e) => ({
    ...e,
    at: isoTimestamp(e.at, `${CONTROL_SCHEMA}.audit_log.logged_at`),
  }));
}

/** The audit log as the report's timeline: each entry's gist in one line. */
export function timelineOf(audit: AuditEntry[]): ReportAuditEntry[] {
  return audit.map((e) => ({ at: e.at, actor: e.actor, action: e.action, note: noteOf(e) }));
}

/** Each custom check's results over the current checkpoints. */
function customChecksOf(spec: BackfillSpec, checkpoints: Checkpoint[]): ReportCustomCheck[] {
  return (spec.validation.checks ?? []).map((c) => {
    const results = checkpoints.flatMap((cp) =>
      cp.provenance.checks.filter((x) => x.kind === 'custom' && x.name === c.name));
    const failures = results.filter((x) => !x.passed);
    return {
      name: c.name, description: c.description, severity: c.severity,
      batches: results.length, failed: failures.length, firstFailure: failures[0]?.message ?? null,
    };
  });
}

/** Each monitor's breaches and latest word, from the audit log. */
function monitorsOf(spec: BackfillSpec, audit: Array<{ at: string; action: string; detail: Record<string, unknown> }>):
  ReportMonitor[] {
  return (spec.rollback.monitors ?? []).map((m) => {
    const mine = audit.filter((e) => (e.action === 'monitor_breached' || e.action === 'monitor_passed') &&
      e.detail.monitor === m.name);
    const last = mine[mine.length - 1];
    return {
      name: m.name, description: m.description, onBreach: m.on_breach,
      breaches: mine.filter((e) => e.action === 'monitor_breached').length,
      latest: last
        ? (last.action === 'monitor_breached' ? `breached at ${last.at}: ${String(last.detail.message ?? '')}`
          : `passed again at ${last.at} (${String(last.detail.value ?? '')})`)
        : null,
    };
  });
}

function specEssentials(s: BackfillSpec): ReportSpec {
  return {
    backfillId: s.backfill_id,
    owner: s.owner,
    target: {
      table: s.target.table,
      partitionKey: s.target.partition_key,
      uniqueKey: s.target.unique_key ?? [],
      shadow: s.target.shadow_table,
    },
    snapshot: s.rollback.snapshot,
    range: { start: s.source_range.start, end: s.source_range.end, grain: s.source_range.grain },
    reason: { issue: s.reason.issue, change: s.reason.change },
    codeVersion: s.transform?.code_version ?? null,
    measures: s.measures.map((m) => ({
      column: m.column,
      expected: { min: m.expected_delta.min, max: m.expected_delta.max },
      absTolerance: m.abs_tolerance,
    })),
    publish: { mode: s.publish.mode, view: s.publish.view ?? null },
    rollback: { windowMs: s.rollback.window, cleanup: s.rollback.cleanup },
    approval: s.approval
      ? { approvers: [...s.approval.approvers], allowOwner: s.approval.allow_owner, timeoutMs: s.approval.timeout }
      : null,
  };
}

const numberOr = <T,>(v: unknown, fallback: T): number | T =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;

function planOf(summary: Record<string, unknown>, recordedAt: string, audit: AuditEntry[]): ReportPlan {
  const totals = (summary.totals ?? {}) as Record<string, unknown>;
  const planned = audit.filter((e) => e.action === 'planned').at(-1);
  return {
    recordedAt: isoTimestamp(recordedAt, `${CONTROL_SCHEMA}.plans.recorded_at`),
    startedBy: planned?.actor ?? null,
    partitions: numberOr(totals.partitions, 0),
    batches: numberOr(totals.batches, 0),
    rows: numberOr(totals.rows, 0),
    bytes: numberOr(totals.bytes, null),
    seconds: numberOr(totals.seconds, null),
    representativePartition:
      typeof summary.representativePartition === 'string' ? summary.representativePartition : null,
    emptyPartitions: numberOr(summary.emptyPartitions, null),
    warnings: Array.isArray(summary.warnings) ? summary.warnings.map(String) : [],
  };
}

function batchOf(c: Checkpoint, codeVersion: string | null): ReportBatch {
  const { summary, checks, measures, accepted, rows } = c.provenance;
  return {
    index: c.batchIndex,
    first: c.firstPartition,
    last: c.lastPartition,
    partitions: c.partitions,
    rowsWritten: c.rowsWritten,
    verdict: c.verdict,
    accepted: accepted ? { by: accepted.by, reason: accepted.reason, at: accepted.at } : null,
    failures: summary?.failures ?? checks.filter((x) => !x.passed && x.severity === 'fail').map((x) => x.message),
    warnings: summary?.warnings ?? checks.filter((x) => !x.passed && x.severity === 'warn').map((x) => x.message),
    measures: measures.map((m) => ({
      column: m.column,
      oldSum: m.oldSum,
      newSum: m.newSum,
      deltaPct: m.deltaPct,
      cumulativeDeltaPct: m.cumulativeDeltaPct,
    })),
    rows: rows ? { old: rows.old, new: rows.new } : { old: 0, new: 0 },
    codeVersion: c.codeVersion,
    stale: c.codeVersion !== codeVersion,
    startedAt: c.startedAt === null ? null : isoTimestamp(c.startedAt, `${CONTROL_SCHEMA}.checkpoints.started_at`),
    finishedAt: isoTimestamp(c.finishedAt, `${CONTROL_SCHEMA}.checkpoints.finished_at`),
  };
}

/** The batches' sums added in batch order, as the workflow's cumulative totals are. */
function totalsOf(counted: Checkpoint[]): CumulativeTotals {
  const totals: CumulativeTotals = { oldSums: {}, newSums: {}, oldRows: 0, newRows: 0, partitions: 0 };
  for (const c of counted) {
    for (const m of c.provenance.measures) {
      totals.oldSums[m.column] = (totals.oldSums[m.column] ?? 0) + m.oldSum;
      totals.newSums[m.column] = (totals.newSums[m.column] ?? 0) + m.newSum;
    }
    const rows = c.provenance.rows;
    totals.oldRows += rows?.old ?? 0;
    totals.newRows += rows?.new ?? 0;
    totals.partitions += c.partitions;
  }
  return totals;
}

/** A recorded exact sum as a number; an empty slice (NULL) sums to 0. */
const sumOf = (text: string | null | undefined) => {
  const v = text === null || text === undefined || text.trim() === '' ? 0 : Number(text);
  return Number.isFinite(v) ? v : 0;
};

/**
 * One series per measure, a point per partition; change-points are found here, on every partition,
 * because the series may be summed into buckets on its way to a renderer (activities/operator.ts),
 * and on the same per-partition deltas the completion check scans (partitionDeltaSeries: a change
 * within abs_tolerance counts as none), so the report marks what the approver was warned of.
 */
function seriesOf(spec: ReportSpec, counted: Checkpoint[]): ReportSeries[] {
  const partitions = counted
    .flatMap((c) => c.provenance.partitions)
    // Labels are canonical ISO starts at one grain, so text order is time order.
    .sort((a, b) => (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0));
  const deltas = partitionDeltaSeries(
    spec.measures.map((m) => ({ column: m.column, expected_delta: m.expected, abs_tolerance: m.absTolerance })),
    partitions,
  );
  return spec.measures.map(({ column, expected }) => {
    const points = partitions.map((p): ReportPoint => {
      const old = sumOf(p.oldSums[column]);
      const neu = sumOf(p.newSums[column]);
      return {
        partition: p.partition,
        old,
        new: neu,
        delta: neu - old,
        deltaPct: old === 0 ? null : (100 * (neu - old)) / Math.abs(old),
        oldRows: p.oldRows,
        newRows: p.newRows,
      };
    });
    return {
      column,
      points,
      changePoints: changePoints(deltas[column] ?? [], { grain: spec.range.grain, measure: column, expected }),
    };
  });
}

function topRows(counted: Checkpoint[]): ReportChangedRow[] {
  const rows = counted.flatMap((c) =>
    c.provenance.topChangedRows.map((r) => ({
      ...r,
      key: { ...r.key },
      // People count batches from 1.
      batch: c.batchIndex + 1,
    })),
  );
  rows.sort(
    (a, b) =>
      Math.abs(b.delta) - Math.abs(a.delta) ||
      a.measure.localeCompare(b.measure) ||
      JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)),
  );
  return rows.slice(0, REPORT_TOP_ROWS);
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

function proofOf(audit: AuditEntry[]): ReportData['proof'] {
  const e = audit.filter((x) => x.action === 'idempotency_proven').at(-1);
  if (!e) return null;
  return {
    partition: String(e.detail.partition),
    rowsWritten: numberOr(e.detail.rowsWritten, 0),
    rowHash: String(e.detail.rowHash),
    at: e.at,
  };
}

/** The latest approval and rejection in `audit`, and every refused one. */
export function approvalOf(approvers: string[], audit: AuditEntry[]): ReportApproval {
  const decision = (action: string) => {
    const e = audit.filter((x) => x.action === action).at(-1);
    return e ? { by: e.actor, comment: text(e.detail.comment), at: e.at } : null;
  };
  return {
    approvers: [...approvers],
    approved: decision('approved'),
    rejected: decision('rejected'),
    refused: audit
      .filter((e) => e.action === 'approve_refused' || e.action === 'reject_refused')
      .map((e) => ({
        by: e.actor,
        kind: e.action === 'approve_refused' ? ('approve' as const) : ('reject' as const),
        problem: String(e.detail.problem ?? ''),
        at: e.at,
      })),
  };
}

function rollbackOf(spec: ReportSpec, audit: AuditEntry[], release: ReleaseRecord | null, now: string): ReportRollback {
  const last = (action: string) => audit.filter((x) => x.action === action).at(-1);
  const rolled = last('rolled_back');
  const signed = last('signed_off');
  const cleaned = last('cleaned_up');
  const base = {
    windowMs: spec.rollback.windowMs,
    cleanup: spec.rollback.cleanup,
    expiresAt: release?.rollbackExpiresAt ?? null,
  };
  const rolledBack = rolled
    ? {
        by: rolled.actor,
        reason: text(rolled.detail.reason),
        at: rolled.at,
        rowsRestored: numberOr(rolled.detail.rowsRestored, null),
      }
    : null;
  const signedOff = signed ? { by: signed.actor, comment: text(signed.detail.comment), at: signed.at } : null;
  const cleanedUp = cleaned
    ? { dropped: Array.isArray(cleaned.detail.dropped) ? cleaned.detail.dropped.map(String) : [], at: cleaned.at }
    : null;
  let status: ReportRollback['status'];
  if (!release || release.status === 'publishing') status = 'not_published';
  else if (release.status === 'rolled_back' || rolledBack) status = 'rolled_back';
  else if (release.status === 'signed_off' || windowEnded(audit, release) || now >= release.rollbackExpiresAt)
    status = 'closed';
  else status = 'open';
  return { ...base, status, rolledBack, signedOff, cleanedUp };
}

/** The workflow released the target's lease after publishing: the window is over. */
function windowEnded(audit: AuditEntry[], release: ReleaseRecord): AuditEntry | undefined {
  return audit.find((e) => e.action === 'lease_released' && e.at >= release.publishedAt);
}

function stateOf(
  plan: ReportPlan,
  current: ReportBatch[],
  audit: AuditEntry[],
  release: ReleaseRecord | null,
): { state: ReportState; since: string | null } {
  const last = (action: string, entries = audit) => entries.filter((e) => e.action === action).at(-1);
  if (release) {
    switch (release.status) {
      case 'rolled_back':
        return { state: 'rolled_back', since: last('rolled_back')?.at ?? null };
      case 'signed_off':
        return { state: 'completed', since: last('signed_off')?.at ?? null };
      case 'publishing':
        return { state: 'publishing', since: release.publishedAt };
      case 'published': {
        const ended = windowEnded(audit, release);
        return ended ? { state: 'completed', since: ended.at } : { state: 'published', since: release.publishedAt };
      }
    }
  }
  // Before a release, only the latest run counts: a new run of the same spec records the plan again.
  const runStart = audit.map((e) => e.action).lastIndexOf('planned');
  const run = runStart < 0 ? audit : audit.slice(runStart);
  const rejected = last('rejected', run);
  if (rejected) return { state: 'rejected', since: rejected.at };
  const failed = run
    .filter((e) => e.action === 'lease_released' && String(e.detail.reason ?? '').startsWith('failed'))
    .at(-1);
  if (failed) return { state: 'failed', since: failed.at };
  const approved = last('approved', run);
  if (approved) return { state: 'approved', since: approved.at };
  const done = current.filter((b) => b.verdict !== 'failed').length;
  const verified = last('completion_verified', run);
  if (verified && done >= plan.batches) return { state: 'awaiting_approval', since: verified.at };
  if (current.some((b) => b.verdict === 'failed')) {
    return { state: 'halted', since: last('batch_failed', run)?.at ?? null };
  }
  if (current.length > 0) return { state: 'running', since: run[0]?.at ?? null };
  return { state: 'planned', since: plan.recordedAt };
}

function noteOf(e: AuditEntry): string | null {
  const d = e.detail;
  let note: string | null;
  switch (e.action) {
    case 'planned':
      note = `${String(d.partitions)} partitions in ${String(d.batches)} batches`;
      break;
    case 'published':
      note = `${String(d.releaseId)}: ${String(d.rowsDeleted)} rows replaced by ${String(d.rowsInserted)}`;
      break;
    case 'idempotency_proven':
      note = `${String(d.partition)} rewritten twice, identical (${String(d.rowsWritten)} rows)`;
      break;
    case 'batch_failed':
      note = `batch ${String(d.batch)}: ${Array.isArray(d.failures) ? String(d.failures[0] ?? '') : ''}`;
      break;
    case 'cleaned_up':
      note = `dropped ${Array.isArray(d.dropped) && d.dropped.length ? d.dropped.map(String).join(', ') : 'nothing'}`;
      break;
    case 'completion_failed':
      note = Array.isArray(d.problems) ? String(d.problems[0] ?? '') : null;
      break;
    case 'concurrency_changed':
      note = `${String(d.from)} → ${String(d.to)}${text(d.reason) ? `: ${String(d.reason)}` : ''}`;
      break;
    default:
      note =
        text(d.comment) ??
        text(d.reason) ??
        text(d.problem) ??
        text(d.releaseId) ??
        text(d.snapshot) ??
        text(d.shadow) ??
        text(d.target);
  }
  if (note === null || note.trim() === '') return null;
  return note.length > NOTE_CHARS ? `${note.slice(0, NOTE_CHARS - 1)}…` : note;
}
