/**
 * Monitors in the rollback window (runbook step 7: "monitor downstream systems after publication"):
 * each a SELECT whose value is compared with a threshold or an expected value, right after publish
 * and then every `interval` while the window is open. Pure: the activity reads the values, this
 * module judges them and says when each monitor is next due.
 */
import type { BackfillSpec } from './spec/schema';

export type MonitorSpec = BackfillSpec['rollback']['monitors'][number];

/** One evaluation of one monitor. Plain JSON: it travels in workflow state. */
export interface MonitorResult {
  name: string;
  /** The first column of the first row; null when the query returned no row or a non-number. */
  value: number | null;
  ok: boolean;
  /** One line: the value against its bound, or why it could not be read. */
  message: string;
  at: string;
  onBreach: 'block' | 'rollback';
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(12).replace(/\.?0+$/, ''));

/** What the monitor expects, in words: "at most 0", "between 10 and 20", "12.5 ± 0.01". */
export function expectation(m: Pick<MonitorSpec, 'min' | 'max' | 'equals' | 'tolerance'>): string {
  const parts: string[] = [];
  if (m.equals !== undefined) {
    parts.push(m.tolerance ? `${num(m.equals)} ± ${num(m.tolerance)}` : `exactly ${num(m.equals)}`);
  }
  if (m.min !== undefined && m.max !== undefined) parts.push(`between ${num(m.min)} and ${num(m.max)}`);
  else if (m.min !== undefined) parts.push(`at least ${num(m.min)}`);
  else if (m.max !== undefined) parts.push(`at most ${num(m.max)}`);
  return parts.join(' and ');
}

/** Judges one value (null: the query gave none, or `error` says why it could not run). */
export function judgeMonitor(m: MonitorSpec, value: number | null, at: string, error?: string): MonitorResult {
  const base = { name: m.name, value, at, onBreach: m.on_breach };
  const expected = expectation(m);
  if (error !== undefined || value === null) {
    const why = error ?? 'the query returned no row, or its first column is not a number';
    const message = `${m.name} (${m.description}) could not be read: ${why}; expected ${expected}`;
    return { ...base, ok: false, message };
  }
  const ok =
    (m.min === undefined || value >= m.min) &&
    (m.max === undefined || value <= m.max) &&
    (m.equals === undefined || Math.abs(value - m.equals) <= m.tolerance);
  return {
    ...base,
    ok,
    message: ok
      ? `${m.name}: ${num(value)}, expected ${expected}`
      : `${m.name} (${m.description}) breached: ${num(value)}, expected ${expected}`,
  };
}

/** When each monitor is next due: `at` + its interval, keyed by name. */
export function nextDue(monitors: readonly MonitorSpec[], evaluatedAtMs: number): Record<string, string> {
  return Object.fromEntries(monitors.map((m) => [m.name, new Date(evaluatedAtMs + m.interval).toISOString()]));
}
