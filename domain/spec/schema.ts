/**
 * The backfill spec: the seed article's block validates as written; the additions are what a real
 * run needs. Parsed once at the edge (client/load-spec.ts); everything downstream uses the output
 * type, which is plain JSON with defaults applied and human units turned into numbers.
 */
import { z } from 'zod';
import type { NodeRelease } from '../../contracts/release';
import { DURATION_BOUNDS, formatDurationMs, SPEC_LIMITS, type DurationField } from '../../contracts/limits';
import { identifierProblem } from '../../warehouse/identifiers';
import { boundaryFormat, partitionCount, rangeOrdinals, type Grain } from '../partitions';
import { checkSqlProblems, monitorSqlProblems } from '../transform-sql';
import { durationMs, parseBytes, parseClock, parseDeltaRange, parseFraction, shown } from './values';

/** Default ceiling on partitions in one backfill; raise with source_range.max_partitions. */
export const DEFAULT_MAX_PARTITIONS = 1000;

/** A plain name has at most 128 characters per dotted part (warehouse/identifiers.ts). */
const NAME_PART_CHARS = 128;

/** Length is checked first, so a megabyte-long name is refused in one short line. */
const identifier = (parts: number, qualified: boolean, example: string) =>
  z.string().superRefine((v, ctx) => {
    const problem = v.length > parts * (NAME_PART_CHARS + 1)
      ? `is ${v.length} characters, longer than any plain name (at most ${NAME_PART_CHARS} per part)`
      : identifierProblem(v, parts) ?? (!qualified || v.includes('.') ? null : 'must be qualified with its schema');
    if (problem) {
      ctx.addIssue({ code: 'custom', message: `${shown(v)} ${problem}; write a plain name like ${example}` });
    }
  });

export const tableName = identifier(3, true, 'finance.daily_revenue');
export const columnName = identifier(1, false, 'revenue_date');

/**
 * A list of at most `max` entries. Beyond it only the length is reported (zod then skips the
 * entries), so an oversized list yields one line, not one per entry.
 */
export const boundedList = <T extends z.ZodType>(item: T, max: number, noun: string, advice: string) =>
  z.array(item).max(max, {
    error: (iss) => `lists ${(iss.input as unknown[]).length} ${noun}, above the maximum ${max}; ${advice}`,
  });

const columnList = boundedList(
  columnName,
  SPEC_LIMITS.columns,
  'columns',
  'list only the columns this rule needs, e.g. [revenue_date, merchant_id]',
).refine((cols) => new Set(cols).size === cols.length, { message: 'lists a column twice; list each column once' });

/**
 * Free text a person writes (names, tickets, reasons): not blank after trimming, at most `max`
 * characters. `need` says what it must hold; `example` is a valid value.
 */
export const freeText = (max: number, need: string, example: string) =>
  z.string().superRefine((v, ctx) => {
    if (v.trim() === '') {
      ctx.addIssue({ code: 'custom', message: `${need}, e.g. ${example}; it is ${v ? 'only blanks' : 'empty'}` });
    } else if (v.length > max) {
      ctx.addIssue({
        code: 'custom',
        message: `is ${v.length} characters, above the maximum ${max}; shorten it, e.g. ${example}`,
      });
    }
  });

export const personName = (example: string) => freeText(SPEC_LIMITS.nameChars, 'must name a person or group', example);

/**
 * A duration within the field's DURATION_BOUNDS, in whole milliseconds. Compared before rounding,
 * so "0.4ms" is too short rather than 0 (no timeout), and "99999999999w" is too long rather than an
 * invalid Date in a workflow task.
 */
export const duration = (field: DurationField, example: string) => {
  const { min, max } = DURATION_BOUNDS[field];
  const write = `write e.g. "${example}"`;
  return z.string().transform((v, ctx) => {
    const ms = durationMs(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `${shown(v)} is not a duration; ${write} (units ms, s, m, h, d, w)` });
    } else if (ms < min) {
      ctx.addIssue({ code: 'custom', message: `${shown(v)} is below the minimum ${formatDurationMs(min)}; ${write}` });
    } else if (ms > max) {
      ctx.addIssue({ code: 'custom', message: `${shown(v)} is above the maximum ${formatDurationMs(max)}; ${write}` });
    } else {
      return Math.round(ms);
    }
    return z.NEVER;
  });
};

const deltaRange = z.string().transform((v, ctx) => {
  const r = parseDeltaRange(v);
  const example = 'write "-1.5% to -0.8%" (low first) or "0%"';
  if (r === null) {
    ctx.addIssue({ code: 'custom', message: `${shown(v)} is not a percentage range; ${example}` });
  } else if (!(Math.abs(r.min) <= SPEC_LIMITS.percent && Math.abs(r.max) <= SPEC_LIMITS.percent)) {
    const message = `${shown(v)} is beyond the maximum ±${SPEC_LIMITS.percent}%; ${example}`;
    ctx.addIssue({ code: 'custom', message });
  } else {
    return r;
  }
  return z.NEVER;
});

const fraction = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const f = parseFraction(v);
  if (f === null) {
    ctx.addIssue({
      code: 'custom',
      message: `${shown(v)} is not a tolerance; write a fraction 0..1 (0.01) or a percentage ("1%")`,
    });
  }
  return f ?? z.NEVER;
});

/** YAML 1.2 keeps 2024-12-01 a string; a YAML 1.1 loader may hand us a Date, so accept both. */
export const boundary = z.union([z.string(), z.date()]).transform((v) =>
  typeof v === 'string' ? v.trim() : v.toISOString().replace(/T00:00:00\.000Z$/, '').replace(/:00\.000Z$/, ''),
);

const positiveInt = (what: string, max: number, example: number) =>
  z.number({ error: `must be a whole number of ${what}` })
    .min(1, { message: `must be at least 1 ${what.replace(/s$/, '')}; write e.g. ${example}` })
    .max(max, { message: `must be at most ${max} ${what}; write e.g. ${example}` })
    .refine(Number.isInteger, { message: `must be a whole number of ${what}; write e.g. ${example}` });

const slug = z.string().regex(/^[a-z0-9][a-z0-9_-]{2,99}$/, {
  message:
    'must be 3–100 lowercase letters, digits, "-" or "_", starting with a letter or digit ' +
    '(it names the workflow and tables)',
});

const measureSchema = z.strictObject({
  /**
   * Expected change of the measure's sum over the whole range, e.g. "-1.5% to -0.8%"; "0%" means
   * unchanged. Judged on the running total after every batch (a warning) and on the whole range
   * at the completion check before approval (a failure).
   */
  expected_delta: deltaRange,
  /** Band for one batch's sum (halts the batch); defaults to expected_delta. Wider when batches vary. */
  batch_delta: deltaRange.optional(),
  /** Band for each partition's sum (halts the batch naming the partitions); no per-partition check when absent. */
  partition_delta: deltaRange.optional(),
  /** Absolute difference treated as equal, against float noise (data-diff#649). */
  abs_tolerance: z
    .number()
    .min(0, { message: 'must be at least 0; write e.g. 0.005' })
    .max(SPEC_LIMITS.absTolerance, {
      message: `must be at most ${SPEC_LIMITS.absTolerance.toExponential().replace('e+', 'e')}; write e.g. 0.005`,
    })
    .default(0.005),
});

const checkSchema = z.strictObject({
  /** Names the check in verdicts, the checkpoint and the report. */
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, {
    message: 'must be 1–64 lowercase letters, digits, "-" or "_", starting with a letter, e.g. gross-matches-events',
  }),
  description: freeText(SPEC_LIMITS.textChars, 'must say what the rule means', '"gross revenue equals the events"'),
  /** fail halts the batch (retry or abort only); warn is shown to the approver. */
  severity: z.enum(['fail', 'warn']).default('fail'),
  /** One SELECT returning the failing rows; the rules of the transform, and no writing words. */
  sql: z.string().min(1, { message: 'is empty; write one SELECT that returns the rows breaking the rule' })
    .max(SPEC_LIMITS.checkSqlChars, {
      error: (iss) => `is ${(iss.input as string).length} characters, above the maximum ${SPEC_LIMITS.checkSqlChars}`,
    })
    .superRefine((sql, ctx) => {
      for (const problem of checkSqlProblems(sql)) ctx.addIssue({ code: 'custom', message: problem });
    }),
});

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });

const monitorSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, {
    message: 'must be 1–64 lowercase letters, digits, "-" or "_", starting with a letter, e.g. monthly-totals',
  }),
  description: freeText(SPEC_LIMITS.textChars, 'must say what is watched', '"monthly net revenue stays put"'),
  /** One SELECT whose first row's first column is the value; {{target}} and {{snapshot}} name those tables. */
  sql: z.string().min(1, { message: 'is empty; write one SELECT returning the watched value' })
    .max(SPEC_LIMITS.checkSqlChars, {
      error: (iss) => `is ${(iss.input as string).length} characters, above the maximum ${SPEC_LIMITS.checkSqlChars}`,
    })
    .superRefine((sql, ctx) => {
      for (const problem of monitorSqlProblems(sql)) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /** The value must be at least / at most this, or equal to `equals` within `tolerance`. */
  min: finite.optional(),
  max: finite.optional(),
  equals: finite.optional(),
  tolerance: z.number().min(0).max(SPEC_LIMITS.absTolerance).default(0),
  interval: duration('rollback.monitors.interval', '1h').prefault('1h'),
  /** block: a breach blocks signoff until it passes again; rollback: the workflow rolls back by itself. */
  on_breach: z.enum(['block', 'rollback']).default('block'),
}).superRefine((m, ctx) => {
  if (m.min === undefined && m.max === undefined && m.equals === undefined) {
    const message = 'needs a threshold (min, max) or an expected value (equals), e.g. max: 0';
    ctx.addIssue({ code: 'custom', message });
  }
  if (m.min !== undefined && m.max !== undefined && m.min > m.max) {
    ctx.addIssue({ code: 'custom', path: ['min'], message: `is above max (${m.max}); write the low bound first` });
  }
});

const pauseWindow = z
  .strictObject({
    start: z.string().refine((v) => parseClock(v) !== null, { message: 'must be a UTC time "HH:MM", e.g. "01:30"' }),
    end: z.string().refine((v) => parseClock(v) !== null, { message: 'must be a UTC time "HH:MM", e.g. "03:00"' }),
  })
  .superRefine((w, ctx) => {
    // The throttle treats start == end as empty; refused so a window never silently pauses nothing.
    if (parseClock(w.start) === parseClock(w.end)) {
      ctx.addIssue({
        code: 'custom',
        message:
          `starts and ends at ${shown(w.end)}, a window of zero length; give an end after the start, e.g. ` +
          `{ start: "01:00", end: "03:00" } (an end before the start crosses midnight)`,
      });
    }
  });

/** The range to rewrite: start and end inclusive, at the grain. */
export const sourceRangeSchema = z.strictObject({
  start: boundary,
  /** Inclusive, as in the seed (2024-12-01 .. 2026-05-31 is 547 days). */
  end: boundary,
  grain: z.enum(['day', 'hour', 'month']).default('day'),
  /** Ceiling on partitions; a larger range is refused unless allow_large_range is true. */
  max_partitions: z.number()
    .int({ message: `must be a whole number of partitions; write e.g. ${DEFAULT_MAX_PARTITIONS}` })
    .min(1, { message: `must be at least 1; write e.g. ${DEFAULT_MAX_PARTITIONS}` })
    .max(SPEC_LIMITS.maxPartitions, {
      message:
        `must be at most ${SPEC_LIMITS.maxPartitions}, the ceiling even with allow_large_range; ` +
        `write e.g. ${DEFAULT_MAX_PARTITIONS}, and split a longer range into several backfills`,
    })
    .default(DEFAULT_MAX_PARTITIONS),
  allow_large_range: z.boolean().default(false),
});

/** The production table and how its rows are keyed. */
export const targetSchema = z.strictObject({
  table: tableName,
  partition_key: columnName,
  /** Business key, unique per row; checked after every batch. */
  unique_key: columnList.min(1, { message: 'must list at least one column' }).optional(),
  /** Columns the transform stamps per run (recalculated_at, backfill_id): left out of fingerprints. */
  audit_columns: columnList.default([]),
  /** Where corrected history is built; default <table>__shadow_<backfill_id>. */
  shadow_table: tableName.optional(),
});

/** The ticket and what the fix changes. */
export const reasonSchema = z.strictObject({
  issue: freeText(SPEC_LIMITS.nameChars, 'must name the ticket', 'FIN-2841'),
  change: freeText(
    SPEC_LIMITS.textChars,
    'must say what the fix changes',
    '"Correct tax-inclusive revenue calculation"',
  ),
});

/** The fixed code for one partition (optional in a spec: needed to run). */
export const transformSchema = z
  .strictObject({
    /** SELECT for one partition; :partition_start and :partition_end are bound, typed values. */
    sql: z.string().min(1, { message: 'is empty; write one SELECT for one partition, or use transform.sql_file' })
      .max(SPEC_LIMITS.sqlChars, {
        error: (iss) =>
          `is ${(iss.input as string).length} characters, above the maximum ${SPEC_LIMITS.sqlChars}; ` +
          `a transform is one SELECT for one partition, e.g. ` +
          `SELECT … WHERE d >= :partition_start AND d < :partition_end`,
      })
      .optional(),
    /** Path of a .sql file, relative to the spec file. */
    sql_file: z.string().min(1).optional(),
    /** The fixed code's version, recorded in every checkpoint and the release, e.g. git:8f31c2a. */
    code_version: freeText(SPEC_LIMITS.nameChars, 'must identify the fixed code', 'git:8f31c2a'),
  })
  .superRefine((t, ctx) => {
    if ((t.sql === undefined) === (t.sql_file === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['sql'],
        message: 'give exactly one of transform.sql or transform.sql_file',
      });
    }
  });

/** How batches run. */
export const executionSchema = z.strictObject({
  partitions_per_batch: positiveInt('partitions', 10_000, 7),
  max_concurrency: positiveInt('concurrent partitions', SPEC_LIMITS.concurrency, 4),
  pause_during_live_pipeline: z.boolean().default(false),
  order: z.enum(['oldest_first', 'newest_first']).default('oldest_first'),
  /**
   * auto: a batch is rewritten with one DELETE + INSERT over its whole range when preparation proves
   * the transform decomposable (the range's output equals the union of its partitions' outputs),
   * otherwise partition by partition. partition: always partition by partition.
   */
  batch_mode: z.enum(['auto', 'partition']).default('auto'),
  query_timeout: duration('execution.query_timeout', '30m').prefault('30m'),
  /** Bytes the backfill may scan per UTC day; when spent it waits for the next day. */
  daily_scan_budget: z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const b = parseBytes(v);
      if (b === null) {
        ctx.addIssue({ code: 'custom', message: `${shown(v)} is not a size; write e.g. "2 TB" or "500 GB"` });
      } else if (b > SPEC_LIMITS.bytes) {
        ctx.addIssue({
          code: 'custom',
          message:
            `${shown(v)} is above the maximum 1 EB ` +
            `(${SPEC_LIMITS.bytes.toExponential().replace('e+', 'e')} bytes); write e.g. "2 TB"`,
        });
      } else {
        return b;
      }
      return z.NEVER;
    })
    .optional(),
  live_pipeline: z
    .strictObject({
      /** Temporal visibility query that matches a running live pipeline. */
      visibility_query: freeText(
        SPEC_LIMITS.textChars,
        'must be a Temporal visibility query',
        `"WorkflowType = 'dailyRevenuePipeline' AND ExecutionStatus = 'Running'"`,
      ).optional(),
      /** Listen for live_pipeline_started / live_pipeline_finished signals. */
      signals: z.boolean().default(true),
      poll_interval: duration('execution.live_pipeline.poll_interval', '1m').prefault('1m'),
    })
    .optional(),
  /** UTC windows in which no batch starts (e.g. around the nightly live load). */
  pause_windows: boundedList(
    pauseWindow,
    SPEC_LIMITS.pauseWindows,
    'windows',
    'merge overlapping windows, e.g. one { start: "01:00", end: "03:00" }',
  ).default([]),
});

/** What every batch, and the whole range, must satisfy. */
export const validationSchema = z.strictObject({
  row_count_tolerance: fraction,
  /** The seed's shorthand: expected change of revenue_measure's sum. */
  revenue_delta_expected: deltaRange.optional(),
  revenue_measure: columnName.default('net_revenue'),
  measures: z
    .record(z.string(), measureSchema)
    .superRefine((m, ctx) => {
      const count = Object.keys(m).length;
      if (count > SPEC_LIMITS.measures) {
        // tooLarge: parse.ts then reports this one line instead of one per measure.
        ctx.addIssue({
          code: 'custom',
          params: { tooLarge: true },
          message:
            `lists ${count} measures, above the maximum ${SPEC_LIMITS.measures}; ` +
            `keep the measures the fix should (or must not) move, e.g. net_revenue`,
        });
      }
    }, { when: (payload) => typeof payload.value === 'object' && payload.value !== null })
    .default({}),
  not_null: columnList.default([]),
  /**
   * Custom checks, run after every batch: each a SELECT returning the rows that break a rule
   * (zero rows = pass), with :partition_start/:partition_end bound to the batch's range and
   * {{shadow}} / {{target}} naming the shadow and production tables.
   */
  checks: boundedList(
    checkSchema,
    SPEC_LIMITS.checks,
    'checks',
    'keep the rules that matter for this fix; a check may test several things with OR',
  ).default([]),
  /** Changed rows kept per batch for the report, largest deltas first. */
  sample_rows: z.number().int().min(0).max(10_000).default(100),
  /**
   * A fix may legitimately empty a partition (test users removed): such a partition then passes
   * the partitions-present and row-count checks as long as its shadow holds no rows at all.
   */
  allow_empty_partitions: z.boolean().default(false),
});

/** Who may approve publication (optional in a spec: needed to run). */
export const approvalSchema = z
  .strictObject({
    approvers: boundedList(
      personName('finance-controller'),
      SPEC_LIMITS.approvers,
      'approvers',
      'name groups rather than every person, e.g. [finance-controller]',
    ).min(1, { message: 'must list at least one approver, e.g. [finance-controller]' }),
    /** Whether the owner may approve their own backfill. */
    allow_owner: z.boolean().default(false),
    timeout: duration('approval.timeout', '7d').prefault('7d'),
    /**
     * Decisions (approve, reject, accept, rollback, signoff) must be signed by a key listed in
     * the worker's trusted keys file (BACKFILL_TRUSTED_KEYS), which the requester does not write.
     */
    require_signature: z.boolean().default(false),
  });

/** How the corrected range reaches production. */
export const publishSchema = z
  .strictObject({
    mode: z.enum(['range', 'view', 'swap']).default('range'),
    /** view mode: the consumer-facing view repointed in one statement. */
    view: tableName.optional(),
  });

/** rollback.window: how long a rollback stays available after publish. */
export const rollbackWindowSchema = duration('rollback.window', '7d').prefault('7d');
export const rollbackCleanupSchema = z.enum(['after_signoff', 'after_window']).default('after_signoff');
/** Who may roll back besides the approvers and the owner (on-call, data platform). */
export const rollbackOperatorsSchema = boundedList(
  personName('data-platform-oncall'),
  SPEC_LIMITS.operators,
  'operators',
  'name groups rather than every person, e.g. [data-platform-oncall]',
).default([]);
/**
 * Watches after publish: each a SELECT whose first column of its one row is compared with a
 * threshold or an expected value, right after publish and then every interval while the
 * rollback window is open. A breach blocks signoff; with on_breach: rollback the workflow
 * rolls back by itself.
 */
export const rollbackMonitorsSchema = boundedList(
  monitorSchema,
  SPEC_LIMITS.monitors,
  'monitors',
  'watch the few totals that matter, e.g. monthly revenue and the finance export',
).default([]);

export const ownerSchema = freeText(SPEC_LIMITS.nameChars, 'must name the owning team or person', 'finance-data');

/** A problem of a source_range, at a path below it ([] is source_range itself). */
export interface RangeProblem {
  path: Array<'start' | 'end'>;
  message: string;
}

/** What is wrong with a parsed source_range: unreadable or inverted bounds, or too many partitions. */
export function sourceRangeProblems(r: z.output<typeof sourceRangeSchema>): RangeProblem[] {
  const { start, end, grain, max_partitions, allow_large_range } = r;
  const range = rangeOrdinals(start, end, grain as Grain);
  if (range === null) {
    return (['start', 'end'] as const)
      .filter((key) => rangeOrdinals(r[key], r[key], grain as Grain) === null)
      .map((key) => ({
        path: [key],
        message: `"${r[key]}" is not a valid ${grain} boundary; write ${boundaryFormat(grain as Grain)}`,
      }));
  }
  if (range.last < range.first) {
    const message = `${end} is before start ${start}; the range is inclusive and must not be inverted`;
    return [{ path: ['end'], message }];
  }
  if (partitionCount(range) > SPEC_LIMITS.maxPartitions) {
    return [{
      path: [],
      message:
        `covers ${partitionCount(range)} ${grain} partitions, ` +
        `above the maximum ${SPEC_LIMITS.maxPartitions} even with allow_large_range; ` +
        `split it into several backfills, e.g. one per year`,
    }];
  }
  if (partitionCount(range) > max_partitions && !allow_large_range) {
    return [{
      path: [],
      message:
        `covers ${partitionCount(range)} ${grain} partitions, more than max_partitions (${max_partitions}); ` +
        `narrow the range, or raise source_range.max_partitions / set allow_large_range: true after review`,
    }];
  }
  return [];
}

export const specSchema = z
  .strictObject({
    backfill_id: slug,
    owner: ownerSchema,
    source_range: sourceRangeSchema,
    target: targetSchema,
    reason: reasonSchema,
    transform: transformSchema.optional(),
    execution: executionSchema,
    validation: validationSchema,
    approval: approvalSchema.optional(),
    publish: publishSchema.default({ mode: 'range' }),
    rollback: z.strictObject({
      /** Restore point: a copy of the trusted result taken before any write. */
      snapshot: tableName,
      window: rollbackWindowSchema,
      cleanup: rollbackCleanupSchema,
      operators: rollbackOperatorsSchema,
      monitors: rollbackMonitorsSchema,
    }),
  })
  .superRefine((spec, ctx) => {
    for (const problem of sourceRangeProblems(spec.source_range)) {
      ctx.addIssue({ code: 'custom', path: ['source_range', ...problem.path], message: problem.message });
    }

    const names = [
      ['target', 'table', spec.target.table],
      ['target', 'shadow_table', spec.target.shadow_table],
      ['rollback', 'snapshot', spec.rollback.snapshot],
      ['publish', 'view', spec.publish.view],
    ] as const;
    const seen = new Map<string, string>();
    for (const [a, b, v] of names) {
      if (!v) continue;
      const key = v.toLowerCase();
      if (seen.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [a, b],
          message: `"${v}" is also used as ${seen.get(key)}; each table must be distinct`,
        });
      } else {
        seen.set(key, `${a}.${b}`);
      }
    }
    if (spec.publish.mode === 'view' && !spec.publish.view) {
      ctx.addIssue({
        code: 'custom',
        path: ['publish', 'view'],
        message:
          'is required when publish.mode is view; name the consumer-facing view, e.g. finance.daily_revenue_current',
      });
    }

    const v = spec.validation;
    const explicit = v.measures[v.revenue_measure];
    if (
      v.revenue_delta_expected &&
      explicit &&
      (explicit.expected_delta.min !== v.revenue_delta_expected.min ||
        explicit.expected_delta.max !== v.revenue_delta_expected.max)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['validation', 'revenue_delta_expected'],
        message: `disagrees with validation.measures.${v.revenue_measure}.expected_delta; keep one of them`,
      });
    }
    for (const m of Object.keys(v.measures)) {
      const problem = identifierProblem(m, 1);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          path: ['validation', 'measures', m],
          message: `measure name "${m}" ${problem}`,
        });
      }
    }
    const key = spec.target.partition_key;
    if (spec.target.unique_key?.length && !spec.target.unique_key.includes(key)) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'unique_key'],
        message: `must include the partition key ${key}, so a key never spans partitions`,
      });
    }
    if (spec.target.audit_columns.includes(key)) {
      ctx.addIssue({
        code: 'custom',
        path: ['target', 'audit_columns'],
        message: `must not include the partition key ${key}`,
      });
    }
  });

/** The spec as written (input) — what editors autocomplete. */
export type SpecInput = z.input<typeof specSchema>;
/** The spec after parsing: defaults applied, units converted. */
export type ParsedSpec = z.output<typeof specSchema>;

export interface Measure {
  column: string;
  /** The whole range (and the running total, as a warning). */
  expected_delta: { min: number; max: number };
  /** One batch's band; expected_delta when absent. */
  batch_delta?: { min: number; max: number };
  /** Each partition's band; not checked when absent. */
  partition_delta?: { min: number; max: number };
  abs_tolerance: number;
}

/**
 * The runtime spec: parsed, with the transform SQL read from its file, the seed's
 * revenue_delta_expected folded into the measure list, and derived table names filled in.
 * Plain JSON, so it is the workflow's input as is.
 */
export interface BackfillSpec extends Omit<ParsedSpec, 'transform' | 'target'> {
  target: ParsedSpec['target'] & { shadow_table: string };
  transform?: { sql: string; sql_file?: string; code_version: string };
  measures: Measure[];
  /** Set only on a release graph's node, by the release workflow (contracts/release.ts). */
  release?: NodeRelease;
}
