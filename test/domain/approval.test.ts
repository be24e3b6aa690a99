import { describe, expect, it } from 'vitest';
import type { BackfillState } from '../../contracts/status';
import { PAYLOAD_LIMITS, SPEC_LIMITS } from '../../contracts/limits';
import {
  actorOf,
  concurrencyProblem,
  decisionProblem,
  livePipelineProblem,
  normalizeName,
  pauseProblem,
  resolveProblem,
  resumeProblem,
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
  operators: ['oncall-bob'],
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

  it.each(STATES.filter((s) => s !== 'awaiting_approval'))(
    'refuses in state %s, naming it and when approval is possible',
    (state) => {
      const problem = decisionProblem(kind, ok, state, rules);
      expect(problem).toContain(`cannot ${kind}`);
      expect(problem).toContain(`is ${state}`);
      expect(problem).toContain('awaiting_approval');
    },
  );

  it('tells a halted run to resolve first', () => {
    expect(decisionProblem(kind, ok, 'halted', rules)).toContain('resolve the halt');
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j), showing the JSON', (req) => {
    const problem = decisionProblem(kind, req, 'awaiting_approval', rules);
    expect(problem).toContain(`${kind} needs a JSON object`);
    expect(problem).toContain('{"by": "finance-controller", "comment": ');
  });

  it.each([{}, { by: '' }, { by: '   ' }, { by: 7 }, { comment: 'lgtm' }])(
    'refuses a missing or blank "by" (%j)',
    (req) => {
      const problem = decisionProblem(kind, req, 'awaiting_approval', rules);
      expect(problem).toContain(`${kind} needs "by"`);
      expect(problem).toContain('send {"by": "finance-controller"');
    },
  );

  it('refuses a comment that is not text', () => {
    expect(decisionProblem(kind, { by: 'finance-controller', comment: 42 }, 'awaiting_approval', rules))
      .toContain('"comment" must be text, got 42');
  });

  it('refuses someone not listed, listing the approvers', () => {
    const problem = decisionProblem(kind, { by: ' mallory ' }, 'awaiting_approval', rules);
    expect(problem)
      .toBe(`${kind} refused: "mallory" is not an approver; approvers are "finance-controller", "Data-Lead"`);
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
      expect(decisionProblem(kind, { by: 'finance-data' }, 'awaiting_approval', only))
        .toContain('add another approver to approval.approvers');
    });

    it('allows the owner and the starter with allowOwner', () => {
      const allowed = { ...ownerApproves, allowOwner: true };
      expect(decisionProblem(kind, { by: 'finance-data' }, 'awaiting_approval', allowed)).toBeNull();
      expect(decisionProblem(kind, { by: 'alice' }, 'awaiting_approval', allowed)).toBeNull();
    });

    it('still requires the owner to be an approver with allowOwner', () => {
      const allowed = { ...rules, allowOwner: true };
      expect(decisionProblem(kind, { by: 'finance-data' }, 'awaiting_approval', allowed))
        .toContain('is not an approver');
    });
  });
});

describe('resolveProblem', () => {
  it.each([
    { action: 'retry', by: 'alice' },
    { action: 'retry', by: 'alice', reason: 'warehouse hiccup' },
    { action: 'accept', by: 'finance-controller', reason: 'known FX restatement' },
    { action: 'abort', by: 'alice', reason: 'wrong fix' },
  ])('accepts %j while halted', (req) => {
    expect(resolveProblem(req, 'halted', rules)).toBeNull();
  });

  it.each(STATES.filter((s) => s !== 'halted', rules))('refuses in state %s, naming it', (state) => {
    const problem = resolveProblem({ action: 'retry', by: 'alice' }, state, rules);
    expect(problem).toContain(`is ${state}`);
    expect(problem).toContain('only while it is halted');
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j)', (req) => {
    expect(resolveProblem(req, 'halted', rules))
      .toBe('resolve needs a JSON object: send {"action": "retry", "by": "your-name", "reason": "why"}');
  });

  it('refuses a missing action', () => {
    expect(resolveProblem({ by: 'alice' }, 'halted', rules)).toBe(
      'resolve needs "action" set to "retry", "abort" or "accept": send {"action": "retry", ' +
        '"by": "your-name", "reason": "why"}',
    );
  });

  it.each(['skip', 'Retry', 3])('refuses an unknown action %j, echoing it', (action) => {
    const problem = resolveProblem({ action, by: 'alice' }, 'halted', rules);
    expect(problem).toContain('"action" set to "retry", "abort" or "accept"');
    expect(problem).toContain(`got ${JSON.stringify(action)}`);
  });

  it.each([undefined, '', '  '])('refuses a blank "by" (%j)', (by) => {
    expect(resolveProblem({ action: 'retry', by }, 'halted', rules)).toContain('resolve needs "by"');
  });

  it.each(['accept', 'abort'])('requires a reason for %s', (action) => {
    for (const reason of [undefined, '', '   ']) {
      const problem = resolveProblem({ action, by: 'finance-controller', reason }, 'halted', rules);
      expect(problem).toContain(`resolve with "${action}" needs "reason"`);
      expect(problem).toContain(
        `{"action": "${action}", "by": "${action === 'accept' ? 'finance-controller' : 'your-name'}", "reason": "why"}`,
      );
    }
  });

  it('refuses a reason that is not text', () => {
    expect(resolveProblem({ action: 'accept', by: 'alice', reason: true }, 'halted', rules))
      .toContain('"reason" must be text');
  });
});

describe('rollbackProblem', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');
  const open = { expiresAtMs: now + 1_000, signedOff: false };
  const ok = { by: 'oncall-bob', reason: 'dashboards broke' };

  it('lets an operator, an approver or the owner roll back while the window is open', () => {
    expect(rollbackProblem(ok, 'published', open, now, rules)).toBeNull();
    expect(rollbackProblem({ by: 'data-lead', reason: 'x' }, 'published', open, now, rules)).toBeNull();
    expect(rollbackProblem({ by: 'finance-data', reason: 'x' }, 'published', open, now, rules)).toBeNull();
  });

  it.each(STATES.filter((s) => s !== 'published'))('refuses in state %s, naming it', (state) => {
    const problem = rollbackProblem(ok, state, open, now, rules);
    expect(problem).toContain(`cannot roll back: the backfill is ${state}`);
    expect(problem).toContain('only while published');
  });

  it('refuses after sign-off', () => {
    expect(rollbackProblem(ok, 'published', { ...open, signedOff: true }, now, rules)).toContain('signed off');
  });

  it('refuses when the window is not open', () => {
    expect(rollbackProblem(ok, 'published', { expiresAtMs: null, signedOff: false }, now, rules)).toContain('not open');
  });

  it('refuses at and after expiry, saying when it closed', () => {
    const problem = 'cannot roll back: the rollback window closed at 2026-11-21T12:00:00.000Z';
    expect(rollbackProblem(ok, 'published', { expiresAtMs: now, signedOff: false }, now, rules)).toBe(problem);
    expect(rollbackProblem(ok, 'published', { expiresAtMs: now, signedOff: false }, now + 1, rules)).toBe(problem);
    expect(rollbackProblem(ok, 'published', { expiresAtMs: now, signedOff: false }, now - 1, rules)).toBeNull();
  });

  it.each(NOT_OBJECTS)('refuses a payload that is not an object (%j)', (req) => {
    expect(rollbackProblem(req, 'published', open, now, rules))
      .toBe('rollback needs a JSON object: send {"by": "your-name", "reason": "why"}');
  });

  it.each([{ reason: 'x' }, { by: ' ', reason: 'x' }])('refuses a blank "by" (%j)', (req) => {
    expect(rollbackProblem(req, 'published', open, now, rules)).toContain('rollback needs "by"');
  });

  it.each([{ by: 'oncall-bob' }, { by: 'oncall-bob', reason: '' }, { by: 'oncall-bob', reason: '  ' }])(
    'refuses a missing reason (%j)',
    (req) => {
      expect(rollbackProblem(req, 'published', open, now, rules)).toBe(
        'rollback needs "reason" (it goes into the audit log): send {"by": "your-name", "reason": "why"}',
      );
    },
  );
});

describe('signoffProblem', () => {
  it.each(['finance-controller', 'DATA-LEAD', ' Finance-Data ', 'Alice'])(
    'accepts %j (approver, owner or starter)',
    (by) => {
      expect(signoffProblem({ by, comment: 'ok' }, 'published', rules)).toBeNull();
    },
  );

  it('refuses anyone else, listing who may', () => {
    expect(signoffProblem({ by: 'mallory' }, 'published', rules)).toBe(
      'signoff refused: "mallory" is not an approver, the owner or who started the run; ' +
        'ask one of "finance-controller", "Data-Lead", "finance-data", "alice"',
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
    expect(signoffProblem(req, 'published', rules))
      .toBe('signoff needs a JSON object: send {"by": "finance-data", "comment": "ok"}');
  });

  it.each([{}, { by: '' }, { by: null }])('refuses a blank "by" (%j)', (req) => {
    expect(signoffProblem(req, 'published', rules)).toContain('signoff needs "by"');
  });

  it('refuses a comment that is not text', () => {
    expect(signoffProblem({ by: 'alice', comment: { text: 'ok' } }, 'published', rules))
      .toContain('"comment" must be text, got {"text":"ok"}');
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

  it.each([{}, { by: 'alice' }, { reason: '' }, { reason: '  ' }, { reason: 5 }])(
    'refuses a missing or blank reason (%j)',
    (req) => {
      expect(pauseProblem(req))
        .toBe('pause needs "reason" (shown in status while paused): send {"by": "your-name", "reason": "why"}');
    },
  );

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

const MB = 'x'.repeat(1024 * 1024);
/** "A few hundred characters at most", whatever was sent. */
const SHORT = 500;

describe('payload bounds', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');
  const open = { expiresAtMs: now + 1_000, signedOff: false };
  const { nameChars, textChars } = PAYLOAD_LIMITS;

  /** Each door with a request it allows, and the bound of each text field it takes. */
  const doors: Array<{
    name: string;
    check: (req: unknown) => string | null;
    ok: Record<string, unknown>;
    fields: Record<string, number>;
  }> = [
    {
      name: 'approve',
      check: (r) => decisionProblem('approve', r, 'awaiting_approval', rules),
      ok: { by: 'finance-controller' },
      fields: { by: nameChars, comment: textChars },
    },
    {
      name: 'reject',
      check: (r) => decisionProblem('reject', r, 'awaiting_approval', rules),
      ok: { by: 'finance-controller' },
      fields: { by: nameChars, comment: textChars },
    },
    {
      name: 'resolve',
      check: (r) => resolveProblem(r, 'halted', rules),
      ok: { action: 'abort', by: 'alice', reason: 'why' },
      fields: { by: nameChars, reason: textChars },
    },
    {
      name: 'rollback',
      check: (r) => rollbackProblem(r, 'published', open, now, rules),
      ok: { by: 'oncall-bob', reason: 'why' },
      fields: { by: nameChars, reason: textChars },
    },
    {
      name: 'signoff',
      check: (r) => signoffProblem(r, 'published', rules),
      ok: { by: 'alice' },
      fields: { by: nameChars, comment: textChars },
    },
    { name: 'pause', check: pauseProblem, ok: { reason: 'why' }, fields: { by: nameChars, reason: textChars } },
    { name: 'resume', check: resumeProblem, ok: {}, fields: { by: nameChars, reason: textChars } },
    {
      name: 'set_concurrency',
      check: concurrencyProblem,
      ok: { concurrency: 2 },
      fields: { by: nameChars, reason: textChars },
    },
    { name: 'live_pipeline', check: livePipelineProblem, ok: {}, fields: { run_id: nameChars, pipeline: nameChars } },
  ];
  const cases = doors.flatMap((d) => Object.entries(d.fields).map(([field, bound]) => ({ ...d, field, bound })));

  it.each(cases.map((c) => [c.name, c.field, c] as const))(
    '%s refuses a 1 MB "%s", naming the field, its length and the bound, in a short message',
    (_n, _f, c) => {
      expect(c.check(c.ok)).toBeNull();
      const problem = c.check({ ...c.ok, [c.field]: MB });
      expect(problem).toContain(`${c.name} "${c.field}" is ${MB.length} characters, more than the ${c.bound} allowed`);
      expect(problem!.length).toBeLessThan(SHORT);
    },
  );

  it.each(cases.filter((c) => c.field !== 'by').map((c) => [c.name, c.field, c] as const))(
    '%s takes a "%s" of exactly the bound, and refuses one more character',
    (_n, _f, c) => {
      expect(c.check({ ...c.ok, [c.field]: 'y'.repeat(c.bound) })).toBeNull();
      expect(c.check({ ...c.ok, [c.field]: 'y'.repeat(c.bound + 1) }))
        .toContain(`is ${c.bound + 1} characters, more than the ${c.bound} allowed`);
    },
  );

  it('applies the "by" bound before asking who it is', () => {
    expect(pauseProblem({ reason: 'x', by: 'b'.repeat(nameChars) })).toBeNull();
    expect(pauseProblem({ reason: 'x', by: 'b'.repeat(nameChars + 1) }))
      .toContain(`"by" is ${nameChars + 1} characters`);
    expect(decisionProblem('approve', { by: 'b'.repeat(nameChars + 1) }, 'awaiting_approval', rules))
      .toContain('more than the 200 allowed');
  });

  it('never echoes a long received value: every refusal stays short, whatever field holds 1 MB', () => {
    const huge = [MB, { text: MB }, [MB], ` ${MB} `];
    for (const d of doors) {
      for (const field of ['by', 'comment', 'reason', 'action', 'concurrency', 'run_id', 'pipeline']) {
        for (const value of huge) {
          const problem = d.check({ ...d.ok, [field]: value });
          if (problem !== null) expect(problem.length, `${d.name} ${field}`).toBeLessThan(SHORT);
        }
      }
      expect(d.check(MB)?.length ?? 0).toBeLessThan(SHORT);
    }
  });

  it('quotes a name within the bound as an excerpt when refusing it', () => {
    const long = 'm'.repeat(nameChars);
    for (const problem of [
      decisionProblem('approve', { by: long }, 'awaiting_approval', rules),
      resolveProblem({ action: 'accept', by: long, reason: 'x' }, 'halted', rules),
      rollbackProblem({ by: long, reason: 'x' }, 'published', open, now, rules),
      signoffProblem({ by: long }, 'published', rules),
    ]) {
      expect(problem).toContain(
        `"${'m'.repeat(PAYLOAD_LIMITS.excerptChars)}… (${nameChars - PAYLOAD_LIMITS.excerptChars} more characters)"`,
      );
    }
  });

  it('set_concurrency allows 1..SPEC_LIMITS.concurrency', () => {
    expect(concurrencyProblem({ concurrency: SPEC_LIMITS.concurrency })).toBeNull();
    expect(concurrencyProblem({ concurrency: SPEC_LIMITS.concurrency + 1 })).toContain(`1..${SPEC_LIMITS.concurrency}`);
  });
});

describe('actorOf', () => {
  it('is the trimmed "by"', () => {
    expect(actorOf({ by: '  alice \t' })).toBe('alice');
    const longest = 'a'.repeat(PAYLOAD_LIMITS.nameChars);
    expect(actorOf({ by: longest })).toBe(longest);
  });

  it.each([undefined, null, 'alice', 42, {}, { by: '' }, { by: '   ' }, { by: 7 }, { by: ['alice'] }])(
    'is "unknown" for %j',
    (req) => {
      expect(actorOf(req)).toBe('unknown');
    },
  );

  it('is an excerpt of an oversized "by"', () => {
    const actor = actorOf({ by: MB });
    expect(actor.startsWith('x'.repeat(PAYLOAD_LIMITS.excerptChars))).toBe(true);
    expect(actor).toContain(`(${MB.length - PAYLOAD_LIMITS.excerptChars} more characters)`);
    expect(actor.length).toBeLessThan(PAYLOAD_LIMITS.nameChars);
  });
});

describe('resolve "accept" is four-eyes', () => {
  const ownerApproves: ApprovalRules = { ...rules, approvers: ['finance-data', 'alice', 'finance-controller'] };
  const accept = (by: string) => ({ action: 'accept', by, reason: 'known FX restatement' });

  it('allows a listed approver, compared trimmed and case-insensitively', () => {
    expect(resolveProblem(accept(' Finance-Controller '), 'halted', ownerApproves)).toBeNull();
  });

  it('refuses someone not listed, naming the approvers and the safe directions', () => {
    expect(resolveProblem(accept('mallory'), 'halted', rules)).toBe(
      'resolve "accept" refused: "mallory" is not an approver; approvers are "finance-controller", ' +
        '"Data-Lead" (retry and abort are open to anyone named)',
    );
  });

  it('refuses the owner and whoever started the run, saying who to ask', () => {
    const owner = resolveProblem(accept('Finance-Data'), 'halted', ownerApproves);
    expect(owner).toContain('"Finance-Data" owns this backfill and may not accept');
    expect(owner).toContain('ask another approver ("finance-controller")');
    expect(owner).toContain('approval.allow_owner: true');
    expect(resolveProblem(accept('alice'), 'halted', ownerApproves)).toContain('"alice" started this backfill');
  });

  it('allows the owner and the starter with allowOwner, if they are approvers', () => {
    const allowed = { ...ownerApproves, allowOwner: true };
    expect(resolveProblem(accept('finance-data'), 'halted', allowed)).toBeNull();
    expect(resolveProblem(accept('alice'), 'halted', allowed)).toBeNull();
    expect(resolveProblem(accept('alice'), 'halted', { ...rules, allowOwner: true })).toContain('is not an approver');
  });

  it('says so when the spec lists no approvers', () => {
    expect(resolveProblem(accept('alice'), 'halted', { ...rules, approvers: [] }))
      .toContain('the spec lists no approvers (approval.approvers)');
  });

  it.each(['retry', 'abort'])('leaves %s open to anyone named, the owner and the starter included', (action) => {
    for (const by of ['mallory', 'finance-data', 'alice']) {
      expect(resolveProblem({ action, by, reason: 'why' }, 'halted', rules)).toBeNull();
    }
  });
});

describe('rollback allowlist', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');
  const open = { expiresAtMs: now + 1_000, signedOff: false };
  const by = (name: string, r: ApprovalRules = rules) =>
    rollbackProblem({ by: name, reason: 'dashboards broke' }, 'published', open, now, r);

  it.each(['finance-controller', 'DATA-LEAD', ' finance-data ', 'OnCall-Bob'])(
    'allows %j (approver, owner or operator)',
    (name) => {
      expect(by(name)).toBeNull();
    },
  );

  it('refuses anyone else, the starter included, naming who may', () => {
    const problem =
      'rollback refused: "mallory" is not an approver, the owner or a rollback operator; ' +
      'ask one of "finance-controller", "Data-Lead", "finance-data", ' +
      '"oncall-bob" (rollback.operators lists who may roll back besides approvers and the owner)';
    expect(by(' mallory ')).toBe(problem);
    expect(by('alice')).toContain('"alice" is not an approver, the owner or a rollback operator');
  });

  it('lists each person once and works without operators', () => {
    expect(by('mallory', { ...rules, operators: ['Finance-Controller'] }))
      .toContain('ask one of "finance-controller", "Data-Lead", "finance-data" (');
    expect(by('oncall-bob', { ...rules, operators: [] }))
      .toContain('is not an approver, the owner or a rollback operator');
  });
});

describe('livePipelineProblem', () => {
  it.each([
    undefined,
    null,
    {},
    { run_id: 'nightly-1' },
    { run_id: 'nightly-1', pipeline: 'revenue-daily' },
    { run_id: '  ' },
    { run_id: null },
  ])('accepts %j', (req) => {
    expect(livePipelineProblem(req)).toBeNull();
  });

  it.each([
    ['nightly-1', 'live_pipeline needs a JSON object'],
    [['nightly-1'], 'live_pipeline needs a JSON object'],
    [{ run_id: 42 }, 'live_pipeline "run_id" must be text, got 42'],
    [{ pipeline: { name: 'x' } }, 'live_pipeline "pipeline" must be text'],
  ])('refuses %j', (req, problem) => {
    expect(livePipelineProblem(req)).toContain(problem);
    expect(livePipelineProblem(req)).toContain('send {"run_id": ');
  });
});

describe('resumeProblem', () => {
  it.each([undefined, null, {}, { by: 'alice' }, { by: 'alice', reason: 'close done' }])('accepts %j', (req) => {
    expect(resumeProblem(req)).toBeNull();
  });

  it('refuses a non-object and fields that are not text', () => {
    expect(resumeProblem('alice')).toContain('resume needs a JSON object');
    expect(resumeProblem({ by: 3 })).toContain('resume "by" must be text, got 3');
  });
});
