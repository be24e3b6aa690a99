/**
 * The backfill spec: the seed article's block validates as written; the additions are what a real
 * run needs. Parsed once at the edge (domain/spec/load.ts); everything downstream uses the output
 * type, which is plain JSON with defaults applied and human units turned into numbers.
 */
import { z } from 'zod';
import { identifierProblem } from '../../warehouse/identifiers';
import { boundaryFormat, partitionCount, rangeOrdinals, type Grain } from '../partitions';
import { parseBytes, parseClock, parseDeltaRange, parseDuration, parseFraction } from './values';

/** Default ceiling on partitions in one backfill; raise with source_range.max_partitions. */
export const DEFAULT_MAX_PARTITIONS = 1000;

const tableName = z.string().superRefine((v, ctx) => {
  const problem = identifierProblem(v, 3) ?? (v.includes('.') ? null : 'must be qualified with its schema');
  if (problem) ctx.addIssue({ code: 'custom', message: `"${v}" ${problem}; write a plain name like finance.daily_revenue` });
});

const columnName = z.string().superRefine((v, ctx) => {
  const problem = identifierProblem(v, 1);
  if (problem) ctx.addIssue({ code: 'custom', message: `"${v}" ${problem}; write a plain column name like revenue_date` });
});

const columnList = z.array(columnName).refine((cols) => new Set(cols).size === cols.length, {
  message: 'lists a column twice; list each column once',
});

const duration = (example: string) =>
  z.string().transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === null) ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration; write e.g. "${example}" (units ms, s, m, h, d, w)` });
    return ms ?? 0;
  });

const deltaRange = z.string().transform((v, ctx) => {
  const r = parseDeltaRange(v);
  if (r === null) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a percentage range; write "-1.5% to -0.8%" (low first) or "0%"` });
  }
  return r ?? { min: 0, max: 0 };
});

const fraction = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const f = parseFraction(v);
  if (f === null) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a tolerance; write a fraction 0..1 (0.01) or a percentage ("1%")` });
  return f ?? 0;
});

/** YAML 1.2 keeps 2024-12-01 a string; a YAML 1.1 loader may hand us a Date, so accept both. */
const boundary = z.union([z.string(), z.date()]).transform((v) =>
  typeof v === 'string' ? v.trim() : v.toISOString().replace(/T00:00:00\.000Z$/, '').replace(/:00\.000Z$/, ''),
);

const positiveInt = (what: string, max: number) =>
  z.number({ error: `must be a whole number of ${what}` })
    .min(1, { message: `must be at least 1 ${what.replace(/s$/, '')}` })
    .max(max, { message: `must be at most ${max} ${what}` })
    .refine(Number.isInteger, { message: `must be a whole number of ${what}` });

const slug = z.string().regex(/^[a-z0-9][a-z0-9_-]{2,99}$/, {
  message: 'must be 3–100 lowercase letters, digits, "-" or "_", starting with a letter or digit (it names the workflow and tables)',
});

const measureSchema = z.strictObject({
  /** Expected change of the measure's sum, e.g. "-1.5% to -0.8%"; "0%" means unchanged. */
  expected_delta: deltaRange,
  /** Absolute difference treated as equal, against float noise (data-diff#649). */
  abs_tolerance: z.number().min(0).default(0.005),
});

const pauseWindow = z.strictObject({
  start: z.string().refine((v) => parseClock(v) !== null, { message: 'must be a UTC time "HH:MM", e.g. "01:30"' }),
  end: z.string().refine((v) => parseClock(v) !== null, { message: 'must be a UTC time "HH:MM", e.g. "03:00"' }),
});

export const specSchema = z
  .strictObject({
    backfill_id: slug,
    owner: z.string().min(1, { message: 'must name the owning team or person' }),
    source_range: z.strictObject({
      start: boundary,
      /** Inclusive, as in the seed (2024-12-01 .. 2026-05-31 is 547 days). */
      end: boundary,
      grain: z.enum(['day', 'hour', 'month']).default('day'),
      /** Ceiling on partitions; a larger range is refused unless allow_large_range is true. */
      max_partitions: z.number().int().min(1).default(DEFAULT_MAX_PARTITIONS),
      allow_large_range: z.boolean().default(false),
    }),
    target: z.strictObject({
      table: tableName,
      partition_key: columnName,
      /** Business key, unique per row; checked after every batch. */
      unique_key: columnList.min(1, { message: 'must list at least one column' }).optional(),
      /** Columns the transform stamps per run (recalculated_at, backfill_id): left out of fingerprints. */
      audit_columns: columnList.default([]),
      /** Where corrected history is built; default <table>__shadow_<backfill_id>. */
      shadow_table: tableName.optional(),
    }),
    reason: z.strictObject({
      issue: z.string().min(1, { message: 'must name the ticket, e.g. FIN-2841' }),
      change: z.string().min(1, { message: 'must say what the fix changes' }),
    }),
    transform: z
      .strictObject({
        /** SELECT for one partition; :partition_start and :partition_end are bound, typed values. */
        sql: z.string().min(1).optional(),
        /** Path of a .sql file, relative to the spec file. */
        sql_file: z.string().min(1).optional(),
        /** The fixed code's version, recorded in every checkpoint and the release, e.g. git:8f31c2a. */
        code_version: z.string().min(1, { message: 'must identify the fixed code, e.g. git:8f31c2a' }),
      })
      .superRefine((t, ctx) => {
        if ((t.sql === undefined) === (t.sql_file === undefined)) {
          ctx.addIssue({ code: 'custom', path: ['sql'], message: 'give exactly one of transform.sql or transform.sql_file' });
        }
      })
      .optional(),
    execution: z.strictObject({
      partitions_per_batch: positiveInt('partitions', 10_000),
      max_concurrency: positiveInt('concurrent partitions', 64),
      pause_during_live_pipeline: z.boolean().default(false),
      order: z.enum(['oldest_first', 'newest_first']).default('oldest_first'),
      query_timeout: duration('30m').prefault('30m'),
      /** Bytes the backfill may scan per UTC day; when spent it waits for the next day. */
      daily_scan_budget: z
        .union([z.string(), z.number()])
        .transform((v, ctx) => {
          const b = parseBytes(v);
          if (b === null) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a size; write e.g. "2 TB" or "500 GB"` });
          return b ?? 0;
        })
        .optional(),
      live_pipeline: z
        .strictObject({
          /** Temporal visibility query that matches a running live pipeline. */
          visibility_query: z.string().min(1).optional(),
          /** Listen for live_pipeline_started / live_pipeline_finished signals. */
          signals: z.boolean().default(true),
          poll_interval: duration('1m').prefault('1m'),
        })
        .optional(),
      /** UTC windows in which no batch starts (e.g. around the nightly live load). */
      pause_windows: z.array(pauseWindow).default([]),
    }),
    validation: z.strictObject({
      row_count_tolerance: fraction,
      /** The seed's shorthand: expected change of revenue_measure's sum. */
      revenue_delta_expected: deltaRange.optional(),
      revenue_measure: columnName.default('net_revenue'),
      measures: z.record(z.string(), measureSchema).default({}),
      not_null: columnList.default([]),
      /** Changed rows kept per batch for the report, largest deltas first. */
      sample_rows: z.number().int().min(0).max(10_000).default(100),
      /**
       * A fix may legitimately empty a partition (test users removed): such a partition then passes
       * the partitions-present and row-count checks as long as its shadow holds no rows at all.
       */
      allow_empty_partitions: z.boolean().default(false),
    }),
    approval: z
      .strictObject({
        approvers: z.array(z.string().min(1)).min(1, { message: 'must list at least one approver' }),
        /** Whether the owner may approve their own backfill. */
        allow_owner: z.boolean().default(false),
        timeout: duration('7d').prefault('7d'),
      })
      .optional(),
    publish: z
      .strictObject({
        mode: z.enum(['range', 'view', 'swap']).default('range'),
        /** view mode: the consumer-facing view repointed in one statement. */
        view: tableName.optional(),
      })
      .default({ mode: 'range' }),
    rollback: z.strictObject({
      /** Restore point: a copy of the trusted result taken before any write. */
      snapshot: tableName,
      window: duration('7d').prefault('7d'),
      cleanup: z.enum(['after_signoff', 'after_window']).default('after_signoff'),
      /** Who may roll back besides the approvers and the owner (on-call, data platform). */
      operators: z.array(z.string().min(1)).default([]),
    }),
  })
  .superRefine((spec, ctx) => {
    const { start, end, grain, max_partitions, allow_large_range } = spec.source_range;
    const range = rangeOrdinals(start, end, grain as Grain);
    if (range === null) {
      for (const [key, value] of [['start', start], ['end', end]] as const) {
        if (rangeOrdinals(value, value, grain as Grain) === null) {
          ctx.addIssue({ code: 'custom', path: ['source_range', key], message: `"${value}" is not a valid ${grain} boundary; write ${boundaryFormat(grain as Grain)}` });
        }
      }
    } else if (range.last < range.first) {
      ctx.addIssue({ code: 'custom', path: ['source_range', 'end'], message: `${end} is before start ${start}; the range is inclusive and must not be inverted` });
    } else if (partitionCount(range) > max_partitions && !allow_large_range) {
      ctx.addIssue({
        code: 'custom',
        path: ['source_range'],
        message: `covers ${partitionCount(range)} ${grain} partitions, more than max_partitions (${max_partitions}); narrow the range, or raise source_range.max_partitions / set allow_large_range: true after review`,
      });
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
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [a, b], message: `"${v}" is also used as ${seen.get(key)}; each table must be distinct` });
      else seen.set(key, `${a}.${b}`);
    }
    if (spec.publish.mode === 'view' && !spec.publish.view) {
      ctx.addIssue({ code: 'custom', path: ['publish', 'view'], message: 'is required when publish.mode is view; name the consumer-facing view, e.g. finance.daily_revenue_current' });
    }

    const v = spec.validation;
    const explicit = v.measures[v.revenue_measure];
    if (v.revenue_delta_expected && explicit &&
      (explicit.expected_delta.min !== v.revenue_delta_expected.min || explicit.expected_delta.max !== v.revenue_delta_expected.max)) {
      ctx.addIssue({ code: 'custom', path: ['validation', 'revenue_delta_expected'], message: `disagrees with validation.measures.${v.revenue_measure}.expected_delta; keep one of them` });
    }
    for (const m of Object.keys(v.measures)) {
      const problem = identifierProblem(m, 1);
      if (problem) ctx.addIssue({ code: 'custom', path: ['validation', 'measures', m], message: `measure name "${m}" ${problem}` });
    }
    const key = spec.target.partition_key;
    if (spec.target.unique_key?.length && !spec.target.unique_key.includes(key)) {
      ctx.addIssue({ code: 'custom', path: ['target', 'unique_key'], message: `must include the partition key ${key}, so a key never spans partitions` });
    }
    if (spec.target.audit_columns.includes(key)) {
      ctx.addIssue({ code: 'custom', path: ['target', 'audit_columns'], message: `must not include the partition key ${key}` });
    }
  });

/** The spec as written (input) — what editors autocomplete. */
export type SpecInput = z.input<typeof specSchema>;
/** The spec after parsing: defaults applied, units converted. */
export type ParsedSpec = z.output<typeof specSchema>;

export interface Measure {
  column: string;
  expected_delta: { min: number; max: number };
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
}
