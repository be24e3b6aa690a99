import { describe, expect, it } from 'vitest';
import type { BackfillState } from '../../contracts/status';
import {
  concurrencyProblem,
  decisionProblem,
  normalizeName,
  pauseProblem,
  resolveProblem,
  rollbackProblem,
  signoffProblem,
  type ApprovalRules,
} from '../../domain/approval';

const STATES: BackfillState[] = [
  'planning', 'preparing', 'running', 'paused', 'halted', 'awaiting_approval',
  'publishing', 'published', 'rolled_back', 'completed', 'failed',
];

const rules: ApprovalRules = {
  approvers: ['finance-controller', 'Data-Lead'],
  allowOwner: false,
  owner: 'finance-data',
  startedBy: 'alice',
};

const NOT_OBJECTS: unknown[] = [null, undefined, 'finance-controller', 42, ['finance-controller']];

describe('normalizeName', () => {
  it('trims and lower-cases', () => {
    expect(normalizeName('  Finance-Controller\t')).toBe('finance-controller');
    expect(normalizeName('alice')).toBe('alice');
  });
});

describe.each(['approve', 'reject'] as const)('decisionProblem(%s)', (kind) => {
  const ok = { by: 'finance-controller', comment: 'checked' };

  it('accepts a listed approver in awaiting_approval', () => {
    expect(decisionProblem(kind, ok, 'awaiting_approval', rules)).toBeNull();
    expect(decisionProblem(kind, { by: 'data-lead' }, 'awaiting_approval', rules)).toBeNull();
    expect(decisionProblem(kind, { by: 'data-lead', comment: null }, 'awaiting_approval', rules)).toBeNull();
  });

  it('compares names trimmed and case-insensitively', () => {
    expect(decisionProblem(kind, { by: '  FINANCE-Controller ' }, 'awaiting_approval', rules)).toBeNull();
    expect(decisionProblem(kind, { by: 'DATA-LEAD' }, 'awaiting_approval', rules)).toBeNull();
  });

  it.each(STATES.filter((s) => s !== 'awaiting_approval'))('refuses in state %s, naming it and when approval is possible', (state) => {
    const problem = decisionProblem(kind, ok, state, rules);
    expect(problem).toContain(`cannot ${kind}`);
    expect(problem).toContain(`is ${state}`);
    expect(problem).toContain('awaiting_approval');
  });

  it('tells a halted run to resolve first', () => {
    expect(decisionProblem(kind, ok, 'halted', rules)).toContain('resolve the halt');
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j), showing the JSON', (req) => {
    const problem = decisionProblem(kind, req, 'awaiting_approval', rules);
    expect(problem).toContain(`${kind} needs a JSON object`);
    expect(problem).toContain('{"by": "finance-controller", "comment": ');
  });

  it.each([{}, { by: '' }, { by: '   ' }, { by: 7 }, { comment: 'lgtm' }])('refuses a missing or blank "by" (%j)', (req) => {
    const problem = decisionProblem(kind, req, 'awaiting_approval', rules);
    expect(problem).toContain(`${kind} needs "by"`);
    expect(problem).toContain('send {"by": "finance-controller"');
  });

  it('refuses a comment that is not text', () => {
    expect(decisionProblem(kind, { by: 'finance-controller', comment: 42 }, 'awaiting_approval', rules)).toContain('"comment" must be text, got 42');
  });

  it('refuses someone not listed, listing the approvers', () => {
    const problem = decisionProblem(kind, { by: ' mallory ' }, 'awaiting_approval', rules);
    expect(problem).toBe(`${kind} refused: "mallory" is not an approver; approvers are "finance-controller", "Data-Lead"`);
  });

  describe('four eyes', () => {
    const ownerApproves: ApprovalRules = { ...rules, approvers: ['finance-data', 'alice', 'finance-controller'] };

    it('refuses the owner even when listed as an approver, naming the way out', () => {
      const problem = decisionProblem(kind, { by: 'Finance-Data' }, 'awaiting_approval', ownerApproves);
      expect(problem).toContain('"Finance-Data" owns this backfill');
      expect(problem).toContain('ask another approver ("finance-controller")');
      expect(problem).toContain('approval.allow_owner: true');
    });

    it('refuses whoever started the run', () => {
      const problem = decisionProblem(kind, { by: 'ALICE' }, 'awaiting_approval', ownerApproves);
      expect(problem).toContain('"ALICE" started this backfill');
    });

    it('says to add an approver when the owner is the only one', () => {
      const only: ApprovalRules = { ...rules, approvers: ['finance-data'] };
      expect(decisionProblem(kind, { by: 'finance-data' }, 'awaiting_approval', only)).toContain('add another approver to approval.approvers');
    });

    it('allows the owner and the starter with allowOwner', () => {
      const allowed = { ...ownerApproves, allowOwner: true };
      expect(decisionProblem(kind, { by: 'finance-data' }, 'awaiting_approval', allowed)).toBeNull();
      expect(decisionProblem(kind, { by: 'alice' }, 'awaiting_approval', allowed)).toBeNull();
    });

    it('still requires the owner to be an approver with allowOwner', () => {
      const allowed = { ...rules, allowOwner: true };
      expect(decisionProblem(kind, { by: 'finance-data' }, 'awaiting_approval', allowed)).toContain('is not an approver');
    });
  });
});

describe('resolveProblem', () => {
  it.each([
    { action: 'retry', by: 'alice' },
    { action: 'retry', by: 'alice', reason: 'warehouse hiccup' },
    { action: 'accept', by: 'alice', reason: 'known FX restatement' },
    { action: 'abort', by: 'alice', reason: 'wrong fix' },
  ])('accepts %j while halted', (req) => {
    expect(resolveProblem(req, 'halted')).toBeNull();
  });

  it.each(STATES.filter((s) => s !== 'halted'))('refuses in state %s, naming it', (state) => {
    const problem = resolveProblem({ action: 'retry', by: 'alice' }, state);
    expect(problem).toContain(`is ${state}`);
    expect(problem).toContain('only while it is halted');
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j)', (req) => {
    expect(resolveProblem(req, 'halted')).toBe('resolve needs a JSON object: send {"action": "retry", "by": "your-name", "reason": "why"}');
  });

  it('refuses a missing action', () => {
    expect(resolveProblem({ by: 'alice' }, 'halted')).toBe(
      'resolve needs "action" set to "retry", "abort" or "accept": send {"action": "retry", "by": "your-name", "reason": "why"}',
    );
  });

  it.each(['skip', 'Retry', 3])('refuses an unknown action %j, echoing it', (action) => {
    const problem = resolveProblem({ action, by: 'alice' }, 'halted');
    expect(problem).toContain('"action" set to "retry", "abort" or "accept"');
    expect(problem).toContain(`got ${JSON.stringify(action)}`);
  });

  it.each([undefined, '', '  '])('refuses a blank "by" (%j)', (by) => {
    expect(resolveProblem({ action: 'retry', by }, 'halted')).toContain('resolve needs "by"');
  });

  it.each(['accept', 'abort'])('requires a reason for %s', (action) => {
    for (const reason of [undefined, '', '   ']) {
      const problem = resolveProblem({ action, by: 'alice', reason }, 'halted');
      expect(problem).toContain(`resolve with "${action}" needs "reason"`);
      expect(problem).toContain(`{"action": "${action}", "by": "your-name", "reason": "why"}`);
    }
  });

  it('refuses a reason that is not text', () => {
    expect(resolveProblem({ action: 'accept', by: 'alice', reason: true }, 'halted')).toContain('"reason" must be text');
  });
});

describe('rollbackProblem', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');
  const open = { expiresAtMs: now + 1_000, signedOff: false };
  const ok = { by: 'oncall-bob', reason: 'dashboards broke' };

  it('lets anyone named roll back while the window is open', () => {
    expect(rollbackProblem(ok, 'published', open, now)).toBeNull();
    expect(rollbackProblem({ by: 'someone-not-listed', reason: 'x' }, 'published', open, now)).toBeNull();
  });

  it.each(STATES.filter((s) => s !== 'published'))('refuses in state %s, naming it', (state) => {
    const problem = rollbackProblem(ok, state, open, now);
    expect(problem).toContain(`cannot roll back: the backfill is ${state}`);
    expect(problem).toContain('only while published');
  });

  it('refuses after sign-off', () => {
    expect(rollbackProblem(ok, 'published', { ...open, signedOff: true }, now)).toContain('signed off');
  });

  it('refuses when the window is not open', () => {
    expect(rollbackProblem(ok, 'published', { expiresAtMs: null, signedOff: false }, now)).toContain('not open');
  });

  it('refuses at and after expiry, saying when it closed', () => {
    const problem = 'cannot roll back: the rollback window closed at 2026-11-21T12:00:00.000Z';
    expect(rollbackProblem(ok, 'published', { expiresAtMs: now, signedOff: false }, now)).toBe(problem);
    expect(rollbackProblem(ok, 'published', { expiresAtMs: now, signedOff: false }, now + 1)).toBe(problem);
    expect(rollbackProblem(ok, 'published', { expiresAtMs: now, signedOff: false }, now - 1)).toBeNull();
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j)', (req) => {
    expect(rollbackProblem(req, 'published', open, now)).toBe('rollback needs a JSON object: send {"by": "your-name", "reason": "why"}');
  });

  it.each([{ reason: 'x' }, { by: ' ', reason: 'x' }])('refuses a blank "by" (%j)', (req) => {
    expect(rollbackProblem(req, 'published', open, now)).toContain('rollback needs "by"');
  });

  it.each([{ by: 'bob' }, { by: 'bob', reason: '' }, { by: 'bob', reason: '  ' }])('refuses a missing reason (%j)', (req) => {
    expect(rollbackProblem(req, 'published', open, now)).toBe(
      'rollback needs "reason" (it goes into the audit log): send {"by": "your-name", "reason": "why"}',
    );
  });
});

describe('signoffProblem', () => {
  it.each(['finance-controller', 'DATA-LEAD', ' Finance-Data ', 'Alice'])('accepts %j (approver, owner or starter)', (by) => {
    expect(signoffProblem({ by, comment: 'ok' }, 'published', rules)).toBeNull();
  });

  it('refuses anyone else, listing who may', () => {
    expect(signoffProblem({ by: 'mallory' }, 'published', rules)).toBe(
      'signoff refused: "mallory" is not an approver, the owner or who started the run; ask one of "finance-controller", "Data-Lead", "finance-data", "alice"',
    );
  });

  it('lists each person once', () => {
    const problem = signoffProblem({ by: 'mallory' }, 'published', { ...rules, startedBy: 'Finance-Controller' });
    expect(problem).toContain('ask one of "finance-controller", "Data-Lead", "finance-data"');
    expect(problem).not.toContain('"Finance-Controller"');
  });

  it.each(STATES.filter((s) => s !== 'published'))('refuses in state %s, naming it', (state) => {
    expect(signoffProblem({ by: 'alice' }, state, rules)).toContain(`cannot sign off: the backfill is ${state}`);
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j)', (req) => {
    expect(signoffProblem(req, 'published', rules)).toBe('signoff needs a JSON object: send {"by": "finance-data", "comment": "ok"}');
  });

  it.each([{}, { by: '' }, { by: null }])('refuses a blank "by" (%j)', (req) => {
    expect(signoffProblem(req, 'published', rules)).toContain('signoff needs "by"');
  });

  it('refuses a comment that is not text', () => {
    expect(signoffProblem({ by: 'alice', comment: { text: 'ok' } }, 'published', rules)).toContain('"comment" must be text, got {"text":"ok"}');
  });
});

describe('pauseProblem', () => {
  it('accepts a reason, with or without by', () => {
    expect(pauseProblem({ reason: 'quarter close' })).toBeNull();
    expect(pauseProblem({ reason: 'quarter close', by: 'alice' })).toBeNull();
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j)', (req) => {
    expect(pauseProblem(req)).toBe('pause needs a JSON object: send {"by": "your-name", "reason": "why"}');
  });

  it.each([{}, { by: 'alice' }, { reason: '' }, { reason: '  ' }, { reason: 5 }])('refuses a missing or blank reason (%j)', (req) => {
    expect(pauseProblem(req)).toBe('pause needs "reason" (shown in status while paused): send {"by": "your-name", "reason": "why"}');
  });

  it('refuses a "by" that is not text', () => {
    expect(pauseProblem({ reason: 'x', by: 12 })).toContain('pause "by" must be text, got 12');
  });
});

describe('concurrencyProblem', () => {
  it.each([1, 4, 64])('accepts %d', (concurrency) => {
    expect(concurrencyProblem({ concurrency })).toBeNull();
    expect(concurrencyProblem({ concurrency, by: 'alice', reason: 'warehouse is quiet' })).toBeNull();
  });

  it.each([
    [0, '0'],
    [-1, '-1'],
    [65, '65'],
    [2.5, '2.5'],
    [Number.NaN, 'NaN'],
    ['4', '"4"'],
    [null, 'null'],
  ])('refuses %j, echoing it as %s', (concurrency, shown) => {
    const problem = concurrencyProblem({ concurrency });
    expect(problem).toContain('set_concurrency needs "concurrency" as a whole number 1..64');
    expect(problem).toContain(`(got ${shown})`);
    expect(problem).toContain('send {"concurrency": 4');
  });

  it('refuses a missing concurrency', () => {
    expect(concurrencyProblem({ by: 'alice' })).toContain('(it is missing)');
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j)', (req) => {
    expect(concurrencyProblem(req)).toContain('set_concurrency needs a JSON object');
  });

  it('refuses by or reason that are not text', () => {
    expect(concurrencyProblem({ concurrency: 2, by: 1 })).toContain('"by" must be text');
    expect(concurrencyProblem({ concurrency: 2, reason: [] })).toContain('"reason" must be text');
  });
});

describe('never throws', () => {
  it('on a payload that cannot be serialised', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(concurrencyProblem({ concurrency: circular })).toContain('[object Object]');
    expect(() => decisionProblem('approve', { by: 'x', comment: circular }, 'awaiting_approval', rules)).not.toThrow();
  });
});
