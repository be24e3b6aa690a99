import { describe, expect, it } from 'vitest';
import type { BackfillState } from '../../contracts/status';
import { canMove, inputProblems, isTerminal } from '../../domain/lifecycle';

const STATES: BackfillState[] = [
  'planning', 'preparing', 'running', 'paused', 'halted', 'awaiting_approval', 'publishing', 'published', 'rolled_back',
  'completed', 'failed',
];
const TERMINAL = ['rolled_back', 'completed', 'failed'];

describe('canMove', () => {
  it('allows exactly the runbook transitions', () => {
    const allowed = STATES.flatMap((from) => STATES.filter((to) => canMove(from, to)).map((to) => `${from}→${to}`));
    expect(allowed.sort()).toEqual([
      'planning→preparing', 'planning→failed',
      'preparing→running', 'preparing→paused', 'preparing→halted', 'preparing→awaiting_approval', 'preparing→failed',
      'running→paused', 'running→halted', 'running→awaiting_approval', 'running→failed',
      'paused→running', 'paused→failed',
      'halted→running', 'halted→paused', 'halted→failed',
      'awaiting_approval→publishing', 'awaiting_approval→failed',
      'publishing→published', 'publishing→failed',
      'published→rolled_back', 'published→completed', 'published→failed',
    ].sort());
  });

  it('never allows staying in place or moving out of a terminal state', () => {
    for (const s of STATES) expect(canMove(s, s), s).toBe(false);
    for (const from of TERMINAL) for (const to of STATES) expect(canMove(from as BackfillState, to)).toBe(false);
  });

  it('reaches publishing only through awaiting_approval', () => {
    expect(STATES.filter((from) => canMove(from, 'publishing'))).toEqual(['awaiting_approval']);
  });

  it('lets every non-terminal state fail', () => {
    for (const s of STATES.filter((x) => !TERMINAL.includes(x))) expect(canMove(s, 'failed'), s).toBe(true);
  });
});

describe('isTerminal', () => {
  it('is true for rolled_back, completed and failed only', () => {
    expect(STATES.filter(isTerminal)).toEqual(TERMINAL);
  });

  it('agrees with canMove: a state is terminal iff nothing may follow it', () => {
    for (const s of STATES) expect(isTerminal(s)).toBe(STATES.every((to) => !canMove(s, to)));
  });
});

describe('inputProblems', () => {
  const good = {
    spec: {
      backfill_id: 'x',
      source_range: { start: '2025-01-01', end: '2025-01-02' },
      target: { table: 'a.b' },
      execution: {},
    },
    startedBy: 'me',
  };

  it('finds nothing wrong with a complete input', () => {
    expect(inputProblems(good)).toEqual([]);
  });

  it.each([null, undefined, 'spec', 42])('refuses a non-object input %j', (input) => {
    expect(inputProblems(input)).toEqual(['input must be an object { spec, startedBy }']);
  });

  it('refuses an input without a spec', () => {
    expect(inputProblems({ startedBy: 'me' })).toEqual([expect.stringContaining('input.spec is missing')]);
    expect(inputProblems({ spec: 'x' })).toEqual([expect.stringContaining('input.spec is missing')]);
  });

  it('lists every missing field', () => {
    expect(inputProblems({ spec: {} })).toEqual([
      'spec.backfill_id is missing',
      'spec.source_range is missing',
      'spec.target.table is missing',
      'spec.execution is missing',
    ]);
    expect(inputProblems({ spec: { ...good.spec, backfill_id: 7, target: {} } })).toEqual([
      'spec.backfill_id is missing',
      'spec.target.table is missing',
    ]);
  });
});
