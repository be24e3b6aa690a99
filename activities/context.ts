/**
 * What every activity gets from the worker: its Temporal context (heartbeats, cancellation, the
 * logger, its identity) and the dependencies injected into createActivities, bundled into the
 * small toolkit the phase modules share. Activities always run inside an activity context: the
 * worker gives them one, and tests run them through @temporalio/testing's MockActivityEnvironment,
 * so there is one code path.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { BackfillSpec } from '../domain/spec/schema';
import { columnNames } from '../warehouse/catalog';
import { ControlStore } from '../warehouse/control-store';
import { transformHash } from './checkpoint';
import { withDefaults } from '../warehouse/tagged';
import type { Driver, QueryOptions } from '../warehouse/warehouse';

export interface ActivityDeps {
  warehouse: Driver;
  clock?: () => Date;
  /** For the live-pipeline visibility query (execution.live_pipeline.visibility_query). */
  temporal?: { client: Client };
  /** Operator counters (worker/metrics.ts serves them to Prometheus); nothing is counted when absent. */
  metrics?: BackfillMetrics;
  /** BACKFILL_TRUSTED_KEYS: who may sign decisions (activities/trusted-keys.ts); signed ones are refused without it. */
  trustedKeysFile?: string;
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

/** How often long activities heartbeat; the workflow's heartbeatTimeout is a few times this. */
const HEARTBEAT_MS = 2_000;

/** The running activity's logger. */
export const log = () => Context.current().log;

/** The run and activity an entry comes from: unique per activity, the same on its retries. */
export function activitySource(): string {
  const { info } = Context.current();
  return `${info.workflowExecution?.runId ?? info.workflowType}/${info.activityId}`;
}

/**
 * Runs `fn` while heartbeating, with the activity's cancellation wired to the running statement,
 * so a cancelled or timed-out activity interrupts the warehouse instead of finishing in the dark.
 */
export async function heartbeating<T>(
  fn: (signal: AbortSignal, beat: (details?: unknown) => void) => Promise<T>,
): Promise<T> {
  const ctx = Context.current();
  let details: unknown;
  const beat = (d?: unknown) => {
    if (d !== undefined) details = d;
    ctx.heartbeat(details);
  };
  const timer = setInterval(() => beat(), HEARTBEAT_MS);
  try {
    return await fn(ctx.cancellationSignal, beat);
  } finally {
    clearInterval(timer);
  }
}

/** The shared means of the phase modules, made once per worker from its dependencies. */
export function toolkit({ warehouse: db, clock = () => new Date(), temporal, metrics, trustedKeysFile }: ActivityDeps) {
  // Control-schema bookkeeping is tagged like everything else (Snowflake QUERY_TAG, cost attribution),
  // with the run's timeout, so a Snowflake session's STATEMENT_TIMEOUT is set once, not toggled.
  const tagged = (spec: BackfillSpec, phase: string) =>
    withDefaults(db, { tag: { backfillId: spec.backfill_id, phase }, timeoutMs: spec.execution.query_timeout });
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
  /**
   * Appends to the audit log. The activity's identity makes the entry unique, so a retry after a
   * lost completion is a no-op; resolves true when the entry was written.
   */
  const audit = async (
    spec: BackfillSpec,
    actor: string,
    action: string,
    detail: Record<string, unknown>,
  ): Promise<boolean> => {
    await ensureControl(spec);
    const entry = {
      backfillId: spec.backfill_id,
      at: now(),
      actor,
      action,
      detail: { ...detail, source: activitySource() },
    };
    return controlOf(spec).auditOnce(entry);
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
  /** This backfill's checkpoints, and those written by the current code and transform. */
  const checkpointsOf = async (spec: BackfillSpec) => {
    const hash = transformHash(spec);
    const all = await controlOf(spec).checkpoints(spec.backfill_id);
    const codeVersion = spec.transform?.code_version ?? null;
    const current = all.filter((c) => c.codeVersion === codeVersion && c.provenance.transformHash === hash);
    return { all, current };
  };
  return {
    db, clock, temporal, metrics, trustedKeysFile, tagged, controlOf, now, opts, ensureControl, audit, columnsOf,
    checkpointsOf,
  };
}

export type Toolkit = ReturnType<typeof toolkit>;
