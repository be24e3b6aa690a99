/**
 * The backfill's state machine as data: which state may follow which. Pure; the workflow asks
 * `canMove` before every transition so an impossible move is a bug caught in tests, not in prod.
 */
import { DURATION_BOUNDS, formatDurationMs, type DurationField } from '../contracts/limits';
import type { BackfillState } from '../contracts/status';

/** Where each bounded duration sits in the parsed spec (a monitor's interval: in each of rollback.monitors). */
const DURATION_AT: Record<Exclude<DurationField, 'rollback.monitors.interval'>, readonly string[]> = {
  'execution.query_timeout': ['execution', 'query_timeout'],
  'execution.live_pipeline.poll_interval': ['execution', 'live_pipeline', 'poll_interval'],
  'approval.timeout': ['approval', 'timeout'],
  'rollback.window': ['rollback', 'window'],
};

/**
 * Durations outside their documented bounds. The client's parse refuses them; a workflow started
 * another way (the UI, another SDK) must not arm a timer that overflows or a date that is invalid.
 */
export function durationProblems(spec: unknown): string[] {
  const problems: string[] = [];
  const judge = (field: DurationField, where: string, v: unknown) => {
    if (v === undefined) return;
    const { min, max } = DURATION_BOUNDS[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      problems.push(
        `spec.${where} is ${JSON.stringify(v)} ms; it must be ${formatDurationMs(min)}..${formatDurationMs(max)}`,
      );
    }
  };
  for (const [field, path] of Object.entries(DURATION_AT) as Array<[DurationField, readonly string[]]>) {
    let v: unknown = spec;
    for (const key of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
    judge(field, field, v);
  }
  const monitors = (spec as { rollback?: { monitors?: unknown } } | null)?.rollback?.monitors;
  if (Array.isArray(monitors)) {
    monitors.forEach((m, i) => judge('rollback.monitors.interval', `rollback.monitors[${i}].interval`,
      (m as { interval?: unknown } | null)?.interval));
  }
  return problems;
}

const NEXT: Record<BackfillState, readonly BackfillState[]> = {
  planning: ['preparing', 'failed'],
  // snapshot, shadow, idempotency proof
  // the first batch's gate or halt, or straight to approval when every batch was checkpointed before
  preparing: ['running', 'paused', 'halted', 'awaiting_approval', 'failed'],
  running: ['paused', 'halted', 'awaiting_approval', 'failed'],
  paused: ['running', 'failed'],
  // a failed check: retry or accept goes back to running, abort fails
  halted: ['running', 'paused', 'failed'],
  awaiting_approval: ['publishing', 'failed'],
  publishing: ['published', 'failed'],
  // the rollback window
  published: ['rolled_back', 'completed', 'failed'],
  rolled_back: [],
  completed: [],
  failed: [],
};

/** Every state, in lifecycle order: the one list the CLI, the report and the tests use. */
export const BACKFILL_STATES = Object.keys(NEXT) as readonly BackfillState[];

/** States in which production may have been written (publish started). */
export const PUBLISHED_STATES: readonly BackfillState[] = ['publishing', 'published', 'rolled_back', 'completed'];

export function canMove(from: BackfillState, to: BackfillState): boolean {
  return NEXT[from].includes(to);
}

export function isTerminal(state: BackfillState): boolean {
  return NEXT[state].length === 0;
}

/** States a run ends in. */
export const TERMINAL_STATES: readonly BackfillState[] = BACKFILL_STATES.filter(isTerminal);

/** Problems with a workflow input that the client's zod parse should have caught. */
export function inputProblems(input: unknown): string[] {
  const i = input as {
    spec?: { backfill_id?: unknown; source_range?: unknown; target?: { table?: unknown }; execution?: unknown };
  } | null;
  const problems: string[] = [];
  if (!i || typeof i !== 'object') return ['input must be an object { spec, startedBy }'];
  if (!i.spec || typeof i.spec !== 'object') {
    return ['input.spec is missing; start the workflow with a spec parsed by `backfill start`'];
  }
  if (typeof i.spec.backfill_id !== 'string') problems.push('spec.backfill_id is missing');
  if (!i.spec.source_range) problems.push('spec.source_range is missing');
  if (typeof i.spec.target?.table !== 'string') problems.push('spec.target.table is missing');
  if (!i.spec.execution) problems.push('spec.execution is missing');
  problems.push(...durationProblems(i.spec));
  return problems;
}
