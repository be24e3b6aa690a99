/**
 * When batches may start: UTC pause windows and the daily scan budget, plus the ETA and byte
 * formatting their messages need. Pure and clock-free (the caller passes `nowMs`, epoch
 * milliseconds), so the workflow can call it in the sandbox and tests need no timers.
 */
import { parseClock } from './spec/values';

/** A daily UTC window in which no batch starts; "HH:MM" as in execution.pause_windows. */
export interface PauseWindow {
  start: string;
  end: string;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const DAY_MINUTES = 1_440;

/** End of the occurrence of `w` that contains `t`, or null; `w` in minutes after midnight. */
function occurrenceEnd(t: number, w: { start: number; end: number }): number | null {
  const today = Math.floor(t / DAY_MS) * DAY_MS;
  const length = (w.end - w.start + DAY_MINUTES) % DAY_MINUTES;
  // An occurrence that started yesterday may still be running (a window crossing midnight).
  for (const day of [today - DAY_MS, today]) {
    const start = day + w.start * MINUTE_MS;
    const end = start + length * MINUTE_MS;
    if (start <= t && t < end) return end;
  }
  return null;
}

/**
 * The window containing `nowMs` (start inclusive, end exclusive; a window with start > end crosses
 * midnight, e.g. 23:00–01:00; start == end is empty), with when it ends. Overlapping or adjacent
 * windows chain, so `endsAtMs` is the end of the whole contiguous covered stretch: waking at the
 * end of the first window only to sleep again would add nothing but history. Windows that cover
 * the whole day chain forever; the stretch is then cut one day after `nowMs`, so the workflow
 * still looks again daily (the spec is what needs fixing).
 */
export function activePauseWindow(
  nowMs: number,
  windows: readonly PauseWindow[],
): { window: PauseWindow; endsAtMs: number } | null {
  const parsed = windows.flatMap((window) => {
    const start = parseClock(window.start);
    const end = parseClock(window.end);
    return start === null || end === null || start === end ? [] : [{ window, start, end }];
  });

  let found: { window: PauseWindow; endsAtMs: number } | null = null;
  for (const w of parsed) {
    const end = occurrenceEnd(nowMs, w);
    if (end === null) continue;
    if (found === null) found = { window: w.window, endsAtMs: end };
    else found.endsAtMs = Math.max(found.endsAtMs, end);
  }
  if (found === null) return null;

  const limit = nowMs + DAY_MS;
  for (let extended = true; extended && found.endsAtMs < limit; ) {
    extended = false;
    for (const w of parsed) {
      const end = occurrenceEnd(found.endsAtMs, w);
      if (end !== null && end > found.endsAtMs) {
        found.endsAtMs = end;
        extended = true;
      }
    }
  }
  found.endsAtMs = Math.min(found.endsAtMs, limit);
  return found;
}

/** The UTC calendar day of `nowMs`: 'YYYY-MM-DD'. */
export function utcDay(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10);
}

/** The first instant of the UTC day after the one containing `nowMs`. */
export function nextUtcMidnight(nowMs: number): number {
  return Math.floor(nowMs / DAY_MS) * DAY_MS + DAY_MS;
}

/** Bytes scanned on one UTC day; plain JSON so it survives continue-as-new. */
export interface BudgetState {
  day: string | null;
  spentToday: number;
}

const spentOn = (state: BudgetState, day: string): number => (state.day === day ? state.spentToday : 0);

/**
 * Charge bytes to the day of `nowMs`, starting from zero when the day changed. Pure: returns a new
 * state. Negative or non-finite estimates count as nothing rather than corrupting the total.
 */
export function chargeBudget(state: BudgetState, nowMs: number, bytes: number): BudgetState {
  const day = utcDay(nowMs);
  const charge = Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
  return { day, spentToday: spentOn(state, day) + charge };
}

/**
 * Whether a batch estimated at `nextBatchBytes` may start now. No budget: run. If nothing is spent
 * today the batch runs even when it alone exceeds the budget (else it would wait forever) and
 * `oversize` says so. Otherwise, if it would overspend the day, wait for the next UTC midnight.
 * `left` is what remains of today's budget before this batch.
 */
export function budgetDecision(
  budgetBytes: number | null | undefined,
  state: BudgetState,
  nowMs: number,
  nextBatchBytes: number,
):
  | { run: true; oversize: boolean; left: number | null }
  | { run: false; resumeAtMs: number; reason: string; left: number } {
  if (budgetBytes === null || budgetBytes === undefined) return { run: true, oversize: false, left: null };
  const spent = spentOn(state, utcDay(nowMs));
  const left = Math.max(0, budgetBytes - spent);
  if (spent === 0) return { run: true, oversize: nextBatchBytes > budgetBytes, left };
  if (spent + nextBatchBytes <= budgetBytes) return { run: true, oversize: false, left };
  const resumeAtMs = nextUtcMidnight(nowMs);
  return {
    run: false,
    resumeAtMs,
    left,
    reason:
      `daily scan budget ${formatBytes(budgetBytes)} spent (${formatBytes(spent)} today, ${formatBytes(left)} left); ` +
      `next batch needs ~${formatBytes(nextBatchBytes)}; resuming at ${new Date(resumeAtMs).toISOString()}`,
  };
}

/**
 * ETA from the pace so far (batch time per partition done, times partitions left); null until
 * something is done, since there is no pace to extrapolate.
 */
export function estimateFinish(
  nowMs: number,
  elapsedBatchMs: number,
  partitionsDone: number,
  partitionsLeft: number,
): number | null {
  if (!(partitionsDone > 0) || !Number.isFinite(elapsedBatchMs) || elapsedBatchMs < 0) return null;
  if (!(partitionsLeft > 0)) return nowMs;
  return nowMs + Math.round((elapsedBatchMs / partitionsDone) * partitionsLeft);
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'] as const;

/** Human byte sizes for messages, decimal units: 1.2 TB, 500 GB, 12 MB, 0 B. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} B`;
  if (bytes < 0) return `-${formatBytes(-bytes)}`;
  let unit = 0;
  while (unit < UNITS.length - 1 && bytes >= 1000 ** (unit + 1)) unit++;
  // One decimal below 10 (1.2 TB), whole numbers above (150 GB); 999.96 GB rounds up into 1 TB.
  const round = (v: number) => (v < 10 ? Math.round(v * 10) / 10 : Math.round(v));
  let value = round(bytes / 1000 ** unit);
  if (value >= 1000 && unit < UNITS.length - 1) {
    unit++;
    value = round(bytes / 1000 ** unit);
  }
  return `${unit === 0 ? Math.round(bytes) : value} ${UNITS[unit]}`;
}
