/**
 * Activities come from a factory over injected dependencies, so tests hand in a real in-memory
 * DuckDB and a fixed clock. The workflow proxies `Activities` by type only. Every activity is
 * idempotent: a retry after a crash or a lost completion must leave the warehouse as one run would.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Context } from '@temporalio/activity';
import type { Logger } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { BackfillError, BackfillFailure, isBackfillFailure } from '../contracts/errors';
import type { BatchSummary, IdempotencyProofInfo, ReleaseRecord } from '../contracts/status';
import { batchPartitions, planShape, summarize, type PlanSummary } from '../domain/plan';
import { partitionAtOrdinal, partitionOrdinal } from '../domain/partitions';
import { emptyCumulative, reconcileBatch, type BatchVerdict, type CumulativeTotals } from '../domain/reconcile';
import type { BackfillSpec } from '../domain/spec/schema';
import { gatherBatchEvidence } from '../warehouse/batch-evidence';
import { rewriteBatch } from '../warehouse/batch-rewrite';
import { columnNames } from '../warehouse/catalog';
import { isDone, verifyCompletion, type CompletionCheck } from '../warehouse/completion';
import { ControlStore, type Checkpoint } from '../warehouse/control-store';
import { estimatePlan } from '../warehouse/plan-estimates';
import { cleanupBackfillTables, publish, rollbackRelease, signoffRelease, type CleanupResult } from '../warehouse/publish';
import { createShadow, createSnapshot, proveIdempotency } from '../warehouse/shadow';
import { claimTables } from '../warehouse/ownership';
import type { Driver, QueryOptions } from '../warehouse/warehouse';
import { withDefaults } from '../warehouse/tagged';
import { gatherReportData } from '../warehouse/report-data';
import type { ReportData, ReportPoint } from '../contracts/report';
import { withFailureTranslation } from './failure';

export interface ActivityDeps {
  warehouse: Driver;
  clock?: () => Date;
  /** For the live-pipeline visibility query (execution.live_pipeline.visibility_query). */
  temporal?: { client: Client };
  /** Operator counters (worker/metrics.ts serves them to Prometheus); nothing is counted when absent. */
  metrics?: BackfillMetrics;
}

/**
 * What the activities count. Declared here, where it is used, so activities never import the
 * worker; the worker's Prometheus registry implements it. Calls are cheap and never throw.
 */
export interface BackfillMetrics {
  /** One partition committed into the shadow by a batch; `bytes` is the plan's estimate, null when it has none. */
  partitionRewritten(backfillId: string, rows: number, bytes: number | null): void;
  /** A batch was reconciled (its verdict) in `seconds`, rewrite included. */
  batchFinished(backfillId: string, verdict: 'passed' | 'failed', seconds: number): void;
  /** An operator accepted a failed verdict. */
  batchAccepted(backfillId: string): void;
  /** A validation failed: a batch's reconciliation, the completion check, or the idempotency proof. */
  validationFailed(backfillId: string): void;
  /** The backfill stopped starting batches (operator pause, live pipeline, pause window, scan budget). */
  paused(backfillId: string, kind: string): void;
}

/** What a batch attempt returns to the workflow: small, plain JSON. Full evidence is in the checkpoint. */
export interface BatchOutcome {
  summary: BatchSummary;
  /** Cumulative totals including this batch (fold them in when the verdict passes or is accepted). */
  cumulative: CumulativeTotals;
}

export interface BatchRequest {
  batchIndex: number;
  /** Totals of the batches before this one; null for a redo found by the completion check. */
  cumulativeBefore: CumulativeTotals | null;
  concurrency: number;
  /** The workflow's attempt at this batch (operator retries count up). */
  attempt: number;
  /** The plan's estimated bytes per partition, for the bytes-scanned metric (null: no estimate). */
  bytesPerPartition?: number | null;
}

export interface ResumePoint {
  /** Batches 0..n-1 have passing or accepted checkpoints from this code version. */
  batchesDone: number;
  partitionsDone: number;
  cumulative: CumulativeTotals;
  recent: BatchSummary[];
  /** Checkpoints left unused because the code version or transform changed since they were written. */
  stale: number;
}

/** Batch summaries kept in workflow state; older ones are read from the control schema. */
export const RECENT_BATCHES = 50;
/** How often long activities heartbeat; the workflow's heartbeatTimeout is a few times this. */
const HEARTBEAT_MS = 2_000;

function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null; // called directly, outside a worker (unit tests, scripts)
  }
}

/**
 * Runs `fn` while heartbeating, with the activity's cancellation wired to the running statement,
 * so a cancelled or timed-out activity interrupts the warehouse instead of finishing in the dark.
 */
async function heartbeating<T>(fn: (signal: AbortSignal | undefined, beat: (details?: unknown) => void) => Promise<T>): Promise<T> {
  const ctx = activityContext();
  let details: unknown;
  const beat = (d?: unknown) => {
    if (d !== undefined) details = d;
    ctx?.heartbeat(details);
  };
  const timer = ctx ? setInterval(() => beat(), HEARTBEAT_MS) : null;
  try {
    return await fn(ctx?.cancellationSignal, beat);
  } finally {
    if (timer) clearInterval(timer);
  }
}

/** Identifies the transform a checkpoint was written with; a changed transform never resumes old checkpoints. */
export function transformHash(spec: BackfillSpec): string {
  const basis = JSON.stringify([spec.transform?.sql ?? null, spec.target.table, spec.target.shadow_table, spec.source_range.grain]);
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

function summaryOf(spec: BackfillSpec, index: number, verdict: BatchVerdict, rowsWritten: number, seconds: number, attempt: number): BatchSummary {
  const parts = batchPartitions(spec, index);
  return {
    index,
    first: parts[0]!.start,
    last: parts[parts.length - 1]!.start,
    partitions: parts.length,
    rowsWritten,
    verdict: verdict.passed ? 'passed' : 'failed',
    acceptable: verdict.acceptable,
    failures: verdict.checks.filter((c) => !c.passed && c.severity === 'fail').map((c) => c.message),
    warnings: verdict.checks.filter((c) => !c.passed && c.severity === 'warn').map((c) => c.message),
    measures: verdict.measures.map((m) => ({ column: m.column, deltaPct: m.deltaPct, cumulativeDeltaPct: m.cumulativeDeltaPct, expected: m.expected })),
    rows: verdict.rows,
    seconds,
    bytesScanned: 0,
    attempt,
  };
}

function summaryFromCheckpoint(c: Checkpoint): BatchSummary | null {
  const s = c.provenance.summary as BatchSummary | undefined;
  return s ? { ...s, verdict: c.verdict } : null;
}

/** The activity's logger (Context.current().log); silent when called outside a worker. */
function logger(): Logger | undefined {
  return activityContext()?.log;
}

const roundSeconds = (s: number) => Math.round(s * 1000) / 1000;

/** The run and activity an entry comes from; null outside a worker. */
function activitySource(): string | null {
  const info = activityContext()?.info;
  return info ? `${info.workflowExecution?.runId ?? info.workflowType}/${info.activityId}` : null;
}

export function createActivities({ warehouse: db, clock = () => new Date(), temporal, metrics }: ActivityDeps) {
  // Control-schema bookkeeping is tagged like everything else (Snowflake QUERY_TAG, cost attribution).
  const tagged = (spec: BackfillSpec, phase: string) => withDefaults(db, { tag: { backfillId: spec.backfill_id, phase } });
  const controlOf = (spec: BackfillSpec) => new ControlStore(tagged(spec, 'control'));
  const now = () => clock().toISOString();
  const opts = (spec: BackfillSpec, phase: string, signal?: AbortSignal, batch?: number): QueryOptions => ({
    tag: { backfillId: spec.backfill_id, phase, batch },
    timeoutMs: spec.execution.query_timeout,
    signal,
  });
  // The control schema is created once per worker; a signal may be audited before the plan step ran.
  let ensured: Promise<void> | null = null;
  const ensureControl = (spec: BackfillSpec) => (ensured ??= controlOf(spec).ensure().catch((e: unknown) => {
    ensured = null;
    throw e;
  }));
  /** Resolves true when the entry was written, false when a retry found it already there. */
  const audit = async (spec: BackfillSpec, actor: string, action: string, detail: Record<string, unknown>): Promise<boolean> => {
    await ensureControl(spec);
    const info = activityContext()?.info;
    if (!info) {
      await controlOf(spec).audit({ backfillId: spec.backfill_id, at: now(), actor, action, detail });
      return true;
    }
    // The activity's identity makes the entry unique, so a retry after a lost completion is a no-op.
    const source = `${info.workflowExecution?.runId ?? info.workflowType}/${info.activityId}`;
    return controlOf(spec).auditOnce({ backfillId: spec.backfill_id, at: now(), actor, action, detail: { ...detail, source } });
  };
  // Target columns per backfill, read once per worker: they were checked at plan time, and a
  // catalog lookup per batch costs as much as rewriting a small partition.
  const columnCache = new Map<string, Promise<string[]>>();
  const columnsOf = (spec: BackfillSpec, o: QueryOptions) => {
    const key = `${spec.backfill_id}\u0000${spec.target.table}`;
    let cols = columnCache.get(key);
    if (!cols) {
      cols = columnNames(db, spec.target.table, o);
      cols.catch(() => columnCache.delete(key));
      columnCache.set(key, cols);
    }
    return cols;
  };
  const checkpointsOf = async (spec: BackfillSpec) => {
    const hash = transformHash(spec);
    const all = await controlOf(spec).checkpoints(spec.backfill_id);
    const current = all.filter((c) => c.codeVersion === (spec.transform?.code_version ?? null) && c.provenance.transformHash === hash);
    return { all, current };
  };

  return withFailureTranslation({
    /**
     * Checks the target against the spec, estimates, and records the plan (idempotent: re-planning
     * replaces the same backfill's plan). Returns only the summary; batches stay in the warehouse.
     */
    async planBackfill(spec: BackfillSpec, startedBy: string): Promise<PlanSummary> {
      const tag = { backfillId: spec.backfill_id, phase: 'plan' };
      await ensureControl(spec);
      const plan = await estimatePlan(db, spec, { tag, sample: true, timeoutMs: spec.execution.query_timeout });
      const at = now();
      await controlOf(spec).recordPlan(plan, spec, at, { tag });
      await controlOf(spec).audit({
        backfillId: spec.backfill_id,
        at,
        actor: startedBy,
        action: 'planned',
        detail: { partitions: plan.totals.partitions, batches: plan.totals.batches, rows: plan.totals.rows },
      });
      logger()?.info(`planned ${plan.totals.partitions} partitions in ${plan.totals.batches} batches`, {
        partitions: plan.totals.partitions, batches: plan.totals.batches, rows: plan.totals.rows, bytes: plan.totals.bytes,
        representativePartition: plan.representativePartition,
      });
      return summarize(plan);
    },

    /** One active backfill per target table (sqlmesh#3866). Re-taking one's own lease is a no-op. */
    async acquireLease(spec: BackfillSpec, workflowId: string, startedBy: string): Promise<void> {
      await ensureControl(spec);
      const had = await controlOf(spec).leaseOf(spec.target.table);
      await controlOf(spec).acquireLease(spec.target.table, spec.backfill_id, workflowId, now());
      if (!had) await audit(spec, startedBy, 'lease_acquired', { target: spec.target.table, workflowId });
      logger()?.info(had ? `lease on ${spec.target.table} already held by this backfill` : `lease on ${spec.target.table} acquired`, {
        target: spec.target.table,
      });
    },

    async releaseLease(spec: BackfillSpec, reason: string): Promise<void> {
      const held = await controlOf(spec).leaseOf(spec.target.table);
      if (held?.backfillId !== spec.backfill_id) {
        logger()?.info(`lease on ${spec.target.table} not held by this backfill; nothing to release`, { target: spec.target.table, reason });
        return;
      }
      await controlOf(spec).releaseLease(spec.target.table, spec.backfill_id);
      await audit(spec, 'workflow', 'lease_released', { target: spec.target.table, reason });
      logger()?.info(`lease on ${spec.target.table} released: ${reason}`, { target: spec.target.table, reason });
    },

    /** Appends to the audit log (operator decisions, refusals, pauses). */
    async recordAudit(spec: BackfillSpec, actor: string, action: string, detail: Record<string, unknown>): Promise<void> {
      const written = await audit(spec, actor, action, detail);
      logger()?.info(`audit: ${action} by ${actor}`, { action, actor });
      if (!written || !metrics) return;
      // An operator's pause is audited twice: 'paused' by the signal, then 'yielding' (kind operator)
      // when the gate stops before the next batch. It is counted once, from 'paused'.
      const kind = typeof detail.kind === 'string' ? detail.kind : null;
      if (action === 'paused') metrics.paused(spec.backfill_id, kind ?? 'operator');
      else if (action === 'yielding' && kind && kind !== 'operator') metrics.paused(spec.backfill_id, kind);
    },

    /**
     * Before the first write: refuses a backfill that already published, and names (shadow,
     * restore point, view) that hold a table this backfill did not create or that another backfill
     * claimed; claims the free ones in backfill_control.owned_tables.
     */
    async claimTables(spec: BackfillSpec, startedBy: string): Promise<{ claimed: string[] }> {
      const at = now();
      const check = await claimTables(db, spec, at, { tag: { backfillId: spec.backfill_id, phase: 'claim' }, timeoutMs: spec.execution.query_timeout });
      const claimed = check.tables.map((t) => `${t.role} ${t.name}`);
      await audit(spec, startedBy, 'tables_claimed', { tables: check.tables.map((t) => ({ role: t.role, table: t.name, canonical: t.canonical, handedOverFrom: t.handOver?.backfillId ?? null })) });
      logger()?.info(`tables owned by this backfill: ${claimed.join(', ')}`, { tables: claimed });
      return { claimed };
    },

    /** Runbook step 1: the restore point, taken once before any write and never overwritten. */
    async takeSnapshot(spec: BackfillSpec): Promise<{ created: boolean; table: string }> {
      return heartbeating(async (signal) => {
        const created = await createSnapshot(db, spec, now(), opts(spec, 'snapshot', signal));
        if (created) await audit(spec, 'workflow', 'snapshot_taken', { snapshot: spec.rollback.snapshot });
        logger()?.info(created ? `restore point ${spec.rollback.snapshot} taken` : `restore point ${spec.rollback.snapshot} already taken; kept as it is`, {
          snapshot: spec.rollback.snapshot, created,
        });
        return { created, table: spec.rollback.snapshot };
      });
    },

    async prepareShadow(spec: BackfillSpec): Promise<{ created: boolean; table: string }> {
      return heartbeating(async (signal) => {
        const created = await createShadow(db, spec, now(), opts(spec, 'shadow', signal));
        if (created) await audit(spec, 'workflow', 'shadow_created', { shadow: spec.target.shadow_table, mode: spec.publish.mode });
        logger()?.info(created ? `shadow ${spec.target.shadow_table} created` : `shadow ${spec.target.shadow_table} already exists; reused`, {
          shadow: spec.target.shadow_table, created,
        });
        return { created, table: spec.target.shadow_table };
      });
    },

    /** Runbook step 2: the representative partition rewritten twice must come out identical. */
    async proveIdempotency(spec: BackfillSpec, partition: string): Promise<IdempotencyProofInfo> {
      return heartbeating(async (signal) => {
        const grain = spec.source_range.grain;
        const ordinal = partitionOrdinal(partition, grain);
        if (ordinal === null) throw new BackfillFailure(BackfillError.InvalidSpec, `proof partition "${partition}" is not a ${grain} partition`);
        let proof: Awaited<ReturnType<typeof proveIdempotency>>;
        try {
          proof = await proveIdempotency(db, spec, partitionAtOrdinal(ordinal, grain), opts(spec, 'proof', signal));
        } catch (e) {
          // Counted here; logged by the SDK's "Activity failed" line, which carries the error.
          if (isBackfillFailure(e, BackfillError.NotIdempotent)) metrics?.validationFailed(spec.backfill_id);
          throw e;
        }
        const info: IdempotencyProofInfo = {
          partition: proof.partition, rowsWritten: proof.rowsWritten, rowHash: String(proof.second.rowHash),
          ...(proof.floatNoise.length ? { floatNoise: proof.floatNoise } : {}),
        };
        await audit(spec, 'workflow', 'idempotency_proven', { ...info });
        logger()?.info(`idempotency proven on ${info.partition}: rewritten twice, identical (${info.rowsWritten} rows)`, {
          partition: info.partition, rows: info.rowsWritten,
        });
        return info;
      });
    },

    /** Where a new run of the same spec picks up: passing checkpoints written by the same code. */
    async resumePoint(spec: BackfillSpec): Promise<ResumePoint> {
      const { all, current } = await checkpointsOf(spec);
      const byIndex = new Map(current.map((c) => [c.batchIndex, c]));
      const shape = planShape(spec);
      let n = 0;
      let partitionsDone = 0;
      while (n < shape.batches && isDone(byIndex.get(n))) {
        partitionsDone += byIndex.get(n)!.partitions;
        n++;
      }
      const last = n > 0 ? byIndex.get(n - 1)! : null;
      const recent: BatchSummary[] = [];
      for (let i = Math.max(0, n - RECENT_BATCHES); i < n; i++) {
        const s = summaryFromCheckpoint(byIndex.get(i)!);
        if (s) recent.push(s);
      }
      logger()?.info(n > 0 ? `resuming after ${n} checkpointed batches` : 'no checkpointed batches to resume from', {
        batchesDone: n, partitionsDone, stale: all.length - current.length,
      });
      return {
        batchesDone: n,
        partitionsDone,
        cumulative: (last?.provenance.cumulative as CumulativeTotals | undefined) ?? emptyCumulative(),
        recent,
        stale: all.length - current.length,
      };
    },

    /**
     * Runbook steps 4–5 for one batch: rewrite its planned partitions into the shadow (each a
     * delete + insert in one transaction, at most `concurrency` at once), reconcile against
     * production, and checkpoint the verdict with its provenance. A failed verdict is checkpointed
     * as failed (never counted as done) and returned, so the workflow halts instead of failing.
     */
    async runBatch(spec: BackfillSpec, req: BatchRequest): Promise<BatchOutcome> {
      const ctx = activityContext();
      const { batchIndex: i } = req;
      const partitions = batchPartitions(spec, i);
      const startedAt = now();
      const t0 = performance.now();
      // A retry after a crash skips partitions the previous attempt committed (from its heartbeat).
      const previous = ctx?.info.heartbeatDetails as { batchIndex?: number; partitionRows?: Record<string, number> } | undefined;
      const prior = previous?.batchIndex === i && previous.partitionRows ? previous.partitionRows : {};
      let cumulativeBefore = req.cumulativeBefore;
      if (cumulativeBefore === null) {
        const existing = (await controlOf(spec).checkpoints(spec.backfill_id)).find((c) => c.batchIndex === i);
        cumulativeBefore = (existing?.provenance.cumulativeBefore as CumulativeTotals | undefined) ?? emptyCumulative();
      }
      return heartbeating(async (signal, beat) => {
        const o = opts(spec, 'batch', signal, i);
        const columns = await columnsOf(spec, o);
        const bytesEach = req.bytesPerPartition ?? null;
        const partitionRows: Record<string, number> = { ...prior };
        beat({ batchIndex: i, partitionRows });
        await rewriteBatch(db, spec, partitions, columns, {
          ...o,
          concurrency: req.concurrency,
          skip: new Set(Object.keys(prior)),
          onPartition: (p, n) => {
            partitionRows[p] = n;
            beat({ batchIndex: i, partitionRows });
            // Counted as each partition commits, so a long batch shows progress and a retry that
            // skips the partitions an earlier attempt committed does not count them twice.
            metrics?.partitionRewritten(spec.backfill_id, n, bytesEach);
          },
        }, prior);
        const evidence = await gatherBatchEvidence(db, spec, i, partitions, o);
        const verdict = reconcileBatch(spec, evidence, cumulativeBefore);
        const rowsWritten = Object.values(partitionRows).reduce((a, b) => a + b, 0);
        const seconds = (performance.now() - t0) / 1000;
        const summary = summaryOf(spec, i, verdict, rowsWritten, seconds, req.attempt);
        await controlOf(spec).recordCheckpoint({
          backfillId: spec.backfill_id,
          batchIndex: i,
          firstPartition: partitions[0]!.start,
          lastPartition: partitions[partitions.length - 1]!.start,
          partitions: partitions.length,
          rowsWritten,
          codeVersion: spec.transform?.code_version ?? null,
          verdict: verdict.passed ? 'passed' : 'failed',
          provenance: {
            transformHash: transformHash(spec),
            workflowId: ctx?.info.workflowExecution?.workflowId ?? null,
            runId: ctx?.info.workflowExecution?.runId ?? null,
            activityAttempt: ctx?.info.attempt ?? null,
            worker: `${hostname()}:${process.pid}`,
            partitionRows,
            // Per-partition old and new sums of every measure: the report's per-day chart.
            partitions: evidence.partitions,
            resumedPartitions: Object.keys(prior),
            checks: verdict.checks,
            measures: verdict.measures,
            rows: verdict.rows,
            topChangedRows: verdict.topChangedRows,
            cumulativeBefore,
            cumulative: verdict.cumulative,
            summary,
            seconds,
          },
          startedAt,
          finishedAt: now(),
        }, o);
        if (!verdict.passed) await audit(spec, 'workflow', 'batch_failed', { batch: i, failures: summary.failures });
        metrics?.batchFinished(spec.backfill_id, summary.verdict === 'passed' ? 'passed' : 'failed', seconds);
        if (!verdict.passed) metrics?.validationFailed(spec.backfill_id);
        const total = planShape(spec).batches;
        const line = `batch ${i + 1}/${total} ${summary.verdict}: ${partitions.length} partitions, ${rowsWritten} rows in ${roundSeconds(seconds)} s`;
        const fields = {
          batch: i + 1, batches: total, first: summary.first, last: summary.last, partitions: partitions.length,
          rows: rowsWritten, seconds: roundSeconds(seconds), verdict: summary.verdict, attempt: req.attempt,
          resumedPartitions: Object.keys(prior).length,
        };
        if (verdict.passed) logger()?.info(line, fields);
        else logger()?.warn(`${line}; ${summary.failures[0] ?? 'a check failed'}`, { ...fields, failures: summary.failures });
        return { summary, cumulative: verdict.cumulative };
      });
    },

    /** An operator accepted a failed verdict: the checkpoint is kept, marked accepted with who and why. */
    async acceptBatch(spec: BackfillSpec, batchIndex: number, by: string, reason: string): Promise<void> {
      const existing = (await controlOf(spec).checkpoints(spec.backfill_id)).find((c) => c.batchIndex === batchIndex);
      if (!existing) {
        throw new BackfillFailure(BackfillError.NotAllowed, `batch ${batchIndex + 1} has no checkpoint to accept; retry it instead.`);
      }
      if (existing.verdict !== 'accepted') {
        const at = now();
        await controlOf(spec).recordCheckpoint({ ...existing, verdict: 'accepted', provenance: { ...existing.provenance, accepted: { by, reason, at } } });
        metrics?.batchAccepted(spec.backfill_id);
      }
      logger()?.info(`batch ${batchIndex + 1} accepted by ${by}: ${reason}`, { batch: batchIndex + 1, by, reason });
    },

    /** Every planned partition checkpointed and present in the shadow with the recorded rows. */
    async verifyCompletion(spec: BackfillSpec): Promise<CompletionCheck> {
      return heartbeating(async (signal) => {
        const { current } = await checkpointsOf(spec);
        const check = await verifyCompletion(db, spec, current, opts(spec, 'completion', signal));
        await audit(spec, 'workflow', check.complete ? 'completion_verified' : 'completion_failed', { ...check });
        if (check.complete) {
          logger()?.info('completion verified: every planned partition is checkpointed and in the shadow');
        } else {
          metrics?.validationFailed(spec.backfill_id);
          logger()?.warn(`completion check failed: ${check.problems[0]}`, { problems: check.problems.length, missingBatches: check.missingBatches });
        }
        return check;
      });
    },

    /** Running live-pipeline workflows matching the spec's visibility query. */
    async countLivePipelines(query: string): Promise<number> {
      if (!temporal) {
        throw new BackfillFailure(
          BackfillError.InvalidConfig,
          'execution.live_pipeline.visibility_query is set but this worker has no Temporal client for visibility queries; start it with worker/main.ts.',
        );
      }
      try {
        const { count } = await temporal.client.workflow.count(query);
        logger()?.debug(`${count} live pipeline run(s) match the visibility query`, { query, count });
        return count;
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        if (/invalid|syntax|unknown|not.*defined/i.test(message)) {
          throw new BackfillFailure(
            BackfillError.InvalidSpec,
            `execution.live_pipeline.visibility_query: the Temporal server refused "${query}": ${message}. Fix the query (try it with \`temporal workflow count --query\`).`,
          );
        }
        throw e;
      }
    },

    /** Runbook step 6: one short transaction replaces the range and writes the release record. */
    async publishRelease(spec: BackfillSpec, approvedBy: string): Promise<ReleaseRecord> {
      return heartbeating(async (signal) => {
        const publishedAt = clock();
        // The `published` audit entry is written in the publish transaction: exactly once, even
        // when the worker dies right after the COMMIT.
        const result = await publish(db, spec, {
          releaseId: `${spec.backfill_id}-release`,
          approvedBy,
          publishedAt: publishedAt.toISOString(),
          rollbackExpiresAt: new Date(publishedAt.getTime() + spec.rollback.window).toISOString(),
          auditDetail: { source: activitySource() },
        }, opts(spec, 'publish', signal));
        logger()?.info(result.alreadyPublished
          ? `${result.release.releaseId} was already published`
          : `published ${result.release.releaseId} into ${spec.target.table}: ${result.rowsDeleted} rows replaced by ${result.rowsInserted}`, {
          releaseId: result.release.releaseId, approvedBy, rowsDeleted: result.rowsDeleted, rowsInserted: result.rowsInserted,
          rollbackExpiresAt: result.release.rollbackExpiresAt,
        });
        return result.release;
      });
    },

    /** Runbook step 7: restore the pre-publish result of the range in one transaction. */
    async rollbackRelease(spec: BackfillSpec, releaseId: string, by: string, reason: string): Promise<{ release: ReleaseRecord; rowsRestored: number }> {
      return heartbeating(async (signal) => {
        // Audited in the rollback transaction, like publish.
        const result = await rollbackRelease(db, spec, { releaseId, by, reason, at: now(), auditDetail: { source: activitySource() } }, opts(spec, 'rollback', signal));
        logger()?.info(`rolled back ${releaseId} by ${by}: ${result.rowsRestored} rows restored (${reason})`, { releaseId, by, reason, rowsRestored: result.rowsRestored });
        return { release: result.release, rowsRestored: result.rowsRestored };
      });
    },

    async signoffRelease(spec: BackfillSpec, releaseId: string, by: string, comment: string | null): Promise<ReleaseRecord> {
      const release = await signoffRelease(tagged(spec, 'signoff'), releaseId);
      await audit(spec, by, 'signed_off', { releaseId, comment });
      logger()?.info(`${releaseId} signed off by ${by}`, { releaseId, by });
      return release;
    },

    /**
     * The report's data from the control schema, for `backfill report` (the worker owns the
     * warehouse). Series longer than REPORT_POINTS are summed into consecutive buckets so the
     * result stays far below Temporal's payload limit on a ten-year range.
     */
    async reportData(spec: BackfillSpec): Promise<ReportData | null> {
      const data = await gatherReportData(tagged(spec, 'report'), spec.backfill_id);
      return data && { ...data, series: data.series.map((s) => ({ ...s, points: bucketPoints(s.points, REPORT_POINTS) })) };
    },

    /** Drops the snapshot and shadow (after signoff, or after the window when the spec says so). */
    async cleanupTables(spec: BackfillSpec, why: string): Promise<CleanupResult> {
      return heartbeating(async (signal) => {
        const result = await cleanupBackfillTables(db, spec, now(), opts(spec, 'cleanup', signal));
        await audit(spec, 'workflow', 'cleaned_up', { ...result, why });
        logger()?.info(`cleaned up: dropped ${result.dropped.join(', ') || 'nothing'} (${why})`, { dropped: result.dropped, why });
        for (const k of result.kept) logger()?.warn(`kept ${k.table}: ${k.why}`, { table: k.table });
        return result;
      });
    },
  });
}

export type Activities = ReturnType<typeof createActivities>;

/** Points per measure a report carries through Temporal (the HTML draws at most 800). */
export const REPORT_POINTS = 1000;

/** Consecutive points summed into at most `max` buckets, each labelled by its first partition. */
export function bucketPoints(points: ReportPoint[], max: number): ReportPoint[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: ReportPoint[] = [];
  for (let i = 0; i < points.length; i += size) {
    const group = points.slice(i, i + size);
    const old = group.reduce((a, p) => a + p.old, 0);
    const now = group.reduce((a, p) => a + p.new, 0);
    out.push({
      ...group[0]!,
      old,
      new: now,
      delta: now - old,
      deltaPct: old === 0 ? null : (100 * (now - old)) / Math.abs(old),
      oldRows: group.reduce((a, p) => a + p.oldRows, 0),
      newRows: group.reduce((a, p) => a + p.newRows, 0),
    });
  }
  return out;
}
