/**
 * What an operator does to a running backfill, over a Temporal client: signals for pause/resume
 * (they never fail), updates for decisions (a refusal is an immediate error), queries to watch,
 * and visibility to list. Temporal's own errors become the backfill vocabulary here, so the CLI
 * maps them to exit codes in one place.
 */
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { BackfillError, BackfillFailure, type BackfillErrorType } from '../contracts/errors';
import * as m from '../contracts/messages';
import { BackfillOwnerKey, BackfillStateKey, BackfillTargetKey } from '../contracts/search-attributes';
import { workflowIdFor } from '../contracts/settings';
import type {
  ApprovalRequest,
  BackfillState,
  BackfillStatus,
  PauseRequest,
  ResolveRequest,
  ResumeRequest,
  RollbackRequest,
  SignoffRequest,
  CancelRequest,
  UpdateAck,
} from '../contracts/status';
import type { ReportData } from '../contracts/report';
import { BACKFILL_STATES, TERMINAL_STATES } from '../domain/lifecycle';
import type { backfillWorkflow } from '../workflows';

export const STATES = BACKFILL_STATES;

/** States in which the workflow waits for a person (watch stops there). */
export const HUMAN_WAITS: readonly BackfillState[] = ['halted', 'awaiting_approval', 'published'];
export const ENDS = TERMINAL_STATES;

type Handle = WorkflowHandle<typeof backfillWorkflow>;

function handleOf(client: Client, backfillId: string): Handle {
  return client.workflow.getHandle<typeof backfillWorkflow>(workflowIdFor(backfillId));
}

/** Temporal errors in the backfill vocabulary: unknown backfill, refused update, anything else as is. */
function translate(e: unknown, backfillId: string): unknown {
  // Checked first: the server reports an update to a closed workflow as "not found" too.
  if (e instanceof Error && /workflow execution already completed/i.test(e.message)) {
    return new BackfillFailure(
      BackfillError.NotAllowed,
      `backfill ${backfillId} has ended; \`backfill status ${backfillId}\` shows how.`,
    );
  }
  if (
    e instanceof WorkflowNotFoundError ||
    (e instanceof Error && /workflow not found|not found for ID/i.test(e.message))
  ) {
    return new BackfillFailure(
      BackfillError.UnknownBackfill,
      `no backfill ${backfillId} (workflow ${workflowIdFor(backfillId)}) on this server/namespace; ` +
        `\`backfill list\` shows the ones there are.`,
    );
  }
  if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure) {
    const type = (e.cause.type ?? BackfillError.NotAllowed) as BackfillErrorType;
    return new BackfillFailure(
      Object.values(BackfillError).includes(type) ? type : BackfillError.NotAllowed,
      e.cause.message,
    );
  }
  return e;
}

async function on<T>(backfillId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw translate(e, backfillId);
  }
}

/**
 * A worker counts as serving a task queue when it polled within this long: a live worker's long
 * poll lasts up to a minute before it polls again.
 */
const POLLER_FRESH_MS = 75_000;

/** Whether a worker polls `taskQueue` for workflow tasks (queries are answered by a worker). */
export async function workerPolling(client: Client, taskQueue: string): Promise<boolean> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const since = Date.now() - POLLER_FRESH_MS;
  return (pollers ?? []).some((p) => (optionalTsToMs(p.lastAccessTime) ?? 0) > since);
}

/** Refuses at once (exit 3) instead of waiting for a query or a start no worker will answer. */
export async function requireWorker(client: Client, taskQueue: string): Promise<void> {
  if (await workerPolling(client, taskQueue)) return;
  throw new BackfillFailure(
    BackfillError.TemporalUnavailable,
    `no worker is polling task queue "${taskQueue}" in namespace ${client.options.namespace}; ` +
      'start one with `npm run worker` (it owns the warehouse; set BACKFILL_TASK_QUEUE for another queue).',
  );
}

/**
 * The status query, after checking a worker can answer it (a query nobody serves hangs ~30 s);
 * `watch` checks once, then polls the query alone.
 */
export const status = (client: Client, id: string, checkWorker = true): Promise<BackfillStatus> =>
  on(id, async () => {
    const handle = handleOf(client, id);
    if (checkWorker) await requireWorker(client, (await handle.describe()).taskQueue);
    return handle.query(m.statusQuery);
  });

export async function pause(client: Client, id: string, req: PauseRequest): Promise<void> {
  if (!req.reason?.trim()) {
    throw new BackfillFailure(BackfillError.InvalidRequest, 'pause needs a reason: --reason "why"');
  }
  await on(id, () => handleOf(client, id).signal(m.pauseSignal, req));
}

export async function resume(client: Client, id: string, req: ResumeRequest): Promise<void> {
  await on(id, () => handleOf(client, id).signal(m.resumeSignal, req));
}

export function approve(client: Client, id: string, req: ApprovalRequest): Promise<UpdateAck> {
  return on(id, () => handleOf(client, id).executeUpdate(m.approveUpdate, { args: [req] }));
}

export function reject(client: Client, id: string, req: ApprovalRequest): Promise<UpdateAck> {
  return on(id, () => handleOf(client, id).executeUpdate(m.rejectUpdate, { args: [req] }));
}

export function resolve(client: Client, id: string, req: ResolveRequest): Promise<UpdateAck> {
  return on(id, () => handleOf(client, id).executeUpdate(m.resolveUpdate, { args: [req] }));
}

export function rollback(client: Client, id: string, req: RollbackRequest): Promise<UpdateAck> {
  return on(id, () => handleOf(client, id).executeUpdate(m.rollbackUpdate, { args: [req] }));
}

export function signoff(client: Client, id: string, req: SignoffRequest): Promise<UpdateAck> {
  return on(id, () => handleOf(client, id).executeUpdate(m.signoffUpdate, { args: [req] }));
}

export function cancel(client: Client, id: string, req: CancelRequest): Promise<UpdateAck> {
  return on(id, () => handleOf(client, id).executeUpdate(m.cancelUpdate, { args: [req] }));
}

export function reportData(client: Client, id: string): Promise<ReportData | null> {
  return on(id, () => handleOf(client, id).executeUpdate(m.reportDataUpdate, { args: [{}] }));
}

export interface ListedBackfill {
  backfillId: string;
  workflowId: string;
  state: string | null;
  target: string | null;
  owner: string | null;
  status: string;
  startTime: string;
}

/** Backfills from visibility (search attributes), newest first; `state` filters on BackfillState. */
export async function list(client: Client, opts: { state?: string; limit?: number } = {}): Promise<ListedBackfill[]> {
  if (opts.state !== undefined && !STATES.includes(opts.state as BackfillState)) {
    throw new BackfillFailure(
      BackfillError.InvalidRequest,
      `--state "${opts.state}" is not a backfill state; use one of ${STATES.join(', ')}`,
    );
  }
  const query = `WorkflowType = 'backfillWorkflow'${opts.state ? ` AND BackfillState = '${opts.state}'` : ''}`;
  const out: ListedBackfill[] = [];
  for await (const w of client.workflow.list({ query })) {
    out.push({
      backfillId: w.workflowId.replace(/^backfill-/, ''),
      workflowId: w.workflowId,
      state: w.typedSearchAttributes.get(BackfillStateKey) ?? null,
      target: w.typedSearchAttributes.get(BackfillTargetKey) ?? null,
      owner: w.typedSearchAttributes.get(BackfillOwnerKey) ?? null,
      status: w.status.name,
      startTime: w.startTime.toISOString(),
    });
    if (out.length >= (opts.limit ?? 100)) break;
  }
  return out;
}

export interface WatchOptions {
  intervalMs?: number;
  /** Called with every status polled (the CLI draws its progress line from it). */
  onStatus?: (s: BackfillStatus, rate: number | null) => void;
  signal?: AbortSignal;
}

/**
 * Polls the status until the workflow waits for a person (halted, awaiting approval, rollback
 * window) or ends; returns the last status. `rate` is partitions per second of running time since
 * watching began (time paused or halted is left out).
 */
export async function watch(client: Client, id: string, opts: WatchOptions = {}): Promise<BackfillStatus> {
  let first: number | null = null;
  // The rate counts only time spent running: a pause or a halt does not dilute it.
  let runningMs = 0;
  let previous: { at: number; running: boolean } | null = null;
  for (;;) {
    const s = await status(client, id, previous === null);
    const at = Date.now();
    if (previous?.running) runningMs += at - previous.at;
    previous = { at, running: s.state === 'running' };
    first ??= s.partitions.done;
    const seconds = runningMs / 1000;
    opts.onStatus?.(s, seconds > 0.5 ? (s.partitions.done - first) / seconds : null);
    if (HUMAN_WAITS.includes(s.state) || ENDS.includes(s.state)) return s;
    if (opts.signal?.aborted) return s;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}

/**
 * What watch says about the progress: partitions, batches, rate, ETA, state, and why it is paused or
 * halted (on a terminal, client/terminal.ts draws the bar in front of it).
 */
export function progressLine(s: BackfillStatus, rate: number | null): string {
  const parts = [
    `${s.partitions.done}/${s.partitions.total} partitions`,
    `batch ${s.batches.done}/${s.batches.total}`,
    rate !== null && rate > 0 ? `${rate.toFixed(1)}/s` : null,
    s.eta && (s.state === 'running' || s.state === 'paused') ? `ETA ${s.eta.slice(11, 19)}Z` : null,
    s.state,
  ].filter(Boolean);
  const why = s.halt ? `halted: ${s.halt.reason}` : s.pause ? `paused (${s.pause.kind}): ${s.pause.reason}` : null;
  return `${parts.join(' · ')}${why ? ` — ${why}` : ''}`;
}
