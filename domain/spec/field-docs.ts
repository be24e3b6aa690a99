/**
 * Help for every spec field, for editors: `backfill schema` sets these on the JSON Schema zod
 * generates from domain/spec/schema.ts, so a hover on a key in the YAML says what it means. Kept
 * beside the schema, not in it, because zod's .describe() would spread prose through the rules.
 * README.md's spec table is the documentation of record; these say the same in plain text (no
 * Markdown: editors show them as is). test/domain/spec/field-docs.test.ts fails when a field has no
 * entry here, when an entry names no field, or when a description does not state the field's default.
 */
import { DURATION_BOUNDS, formatDurationMs, SPEC_LIMITS, type DurationField } from '../../contracts/limits';

export interface FieldDoc {
  /** One or two sentences: what it means, its default and bounds, an example value. */
  description: string;
  /** Values as written in the YAML. */
  examples?: unknown[];
}

const count = (n: number) => n.toLocaleString('en-US');
const between = (field: DurationField) => {
  const { min, max } = DURATION_BOUNDS[field];
  return `${formatDurationMs(min)} to ${formatDurationMs(max)}`;
};
const absToleranceMax = SPEC_LIMITS.absTolerance.toExponential().replace('e+', 'e');

/** Help on the spec as a whole (the schema's root). */
export const SPEC_DOC =
  'A safe backfill: the range to rewrite, the fixed transform, how batches run, what every batch must ' +
  'satisfy, who approves, how it is published and how it is rolled back. Check it with ' +
  '"backfill validate <spec>"; README.md ("The spec") documents every field.';

/**
 * Keyed by the path as written in YAML: "a.b" for a key, "a[]" for a list's entries, "a.*" for a
 * map's values (validation.measures.<column> is "validation.measures.*").
 */
export const FIELD_DOCS: Readonly<Record<string, FieldDoc>> = {
  backfill_id: {
    description:
      'Names the workflow (backfill-<id>) and the tables derived from it: 3 to 100 lowercase letters, ' +
      'digits, "-" or "_", starting with a letter or digit. Example: revenue-tax-fix-2026-06.',
    examples: ['revenue-tax-fix-2026-06'],
  },
  owner: {
    description:
      'Owning team or person, recorded and filterable in the UI; may not approve unless ' +
      `approval.allow_owner is true. At most ${count(SPEC_LIMITS.nameChars)} characters, e.g. finance-data.`,
    examples: ['finance-data'],
  },

  source_range: {
    description: 'The partitions to rewrite: start and end, both inclusive, at the grain. Example: ' +
      '{ start: 2024-12-01, end: 2026-05-31 } is 547 days.',
  },
  'source_range.start': {
    description:
      'First partition, inclusive, written at the grain: YYYY-MM-DD (day), YYYY-MM-DDTHH:00 (hour, UTC) ' +
      'or YYYY-MM (month). Example: 2024-12-01.',
    examples: ['2024-12-01'],
  },
  'source_range.end': {
    description:
      'Last partition, inclusive, in the same format as start; an end before start is refused. ' +
      'Example: 2026-05-31 (from 2024-12-01, 547 days).',
    examples: ['2026-05-31'],
  },
  'source_range.grain': {
    description: 'Partition size: day, hour or month. Default day, e.g. hour.',
    examples: ['day', 'hour'],
  },
  'source_range.max_partitions': {
    description:
      'Ceiling on partitions in the range; a larger range is refused unless allow_large_range is true. ' +
      `Default 1000, at most ${count(SPEC_LIMITS.maxPartitions)} even with allow_large_range, e.g. 2208.`,
    examples: [2208],
  },
  'source_range.allow_large_range': {
    description: 'Set true, after review, to accept a range of more partitions than max_partitions. Default false.',
    examples: [true],
  },

  target: {
    description: 'The production table and how its rows are keyed. Example: { table: finance.daily_revenue, ' +
      'partition_key: revenue_date }.',
  },
  'target.table': {
    description:
      'The production table, schema.table or db.schema.table; written only by publish and rollback. ' +
      'Example: finance.daily_revenue.',
    examples: ['finance.daily_revenue'],
  },
  'target.partition_key': {
    description:
      'Column the range partitions on: a DATE for day and month grains, a TIMESTAMP for hour. Example: revenue_date.',
    examples: ['revenue_date'],
  },
  'target.unique_key': {
    description:
      'Columns identifying a row (needed to run); must include the partition key, and is checked unique ' +
      `after every batch. At most ${count(SPEC_LIMITS.columns)} columns, e.g. [revenue_date, merchant_id].`,
    examples: [['revenue_date', 'merchant_id']],
  },
  'target.audit_columns': {
    description:
      'Columns the transform stamps per run, left out of fingerprints so they do not break the ' +
      'idempotency proof. Default none, e.g. [recalculated_at, backfill_id].',
    examples: [['recalculated_at', 'backfill_id']],
  },
  'target.shadow_table': {
    description:
      'Where corrected history is built; it must not exist (the backfill creates it and records it as its own). ' +
      'Default <table>__shadow_<backfill_id>, e.g. finance.daily_revenue_v2.',
    examples: ['finance.daily_revenue_v2'],
  },

  reason: {
    description: 'Why the backfill runs: the ticket and what the fix changes, shown in the UI and recorded.',
  },
  'reason.issue': {
    description:
      `The ticket, shown in the UI and recorded; at most ${count(SPEC_LIMITS.nameChars)} characters, e.g. FIN-2841.`,
    examples: ['FIN-2841'],
  },
  'reason.change': {
    description:
      `What the fix changes, shown in the UI and recorded; at most ${count(SPEC_LIMITS.textChars)} characters, ` +
      'e.g. "Correct tax-inclusive revenue calculation".',
    examples: ['Correct tax-inclusive revenue calculation'],
  },

  transform: {
    description:
      'The fixed code that rewrites one partition (needed to run): exactly one of sql or sql_file, and ' +
      'code_version. Example: { sql_file: sql/revenue-tax-fix.sql, code_version: "git:8f31c2a" }.',
  },
  'transform.sql': {
    description:
      "One SELECT producing the target's columns for one partition, filtered with :partition_start and " +
      ':partition_end (bound, typed, half-open); a second statement, another :name or a missing bound is ' +
      `refused. Give this or sql_file, at most ${count(SPEC_LIMITS.sqlChars)} characters, e.g. ` +
      '"SELECT * FROM staging.revenue WHERE revenue_date >= :partition_start AND revenue_date < :partition_end".',
  },
  'transform.sql_file': {
    description:
      'Path of a .sql file holding the transform, relative to the spec file; give this or sql. ' +
      'Example: sql/revenue-tax-fix.sql.',
    examples: ['sql/revenue-tax-fix.sql'],
  },
  'transform.code_version': {
    description:
      'Version of the fixed code, stamped on every checkpoint and the release (required with a transform); ' +
      `at most ${count(SPEC_LIMITS.nameChars)} characters, e.g. git:8f31c2a.`,
    examples: ['git:8f31c2a'],
  },

  execution: {
    description: 'How batches run: size, concurrency, order, timeouts and when to wait. Example: ' +
      '{ partitions_per_batch: 7, max_concurrency: 2 }.',
  },
  'execution.partitions_per_batch': {
    description: 'Partitions per batch, 1 to 10,000; 547 days by 7 is 79 batches. Example: 7.',
    examples: [7],
  },
  'execution.max_concurrency': {
    description:
      `Rewrites at once, 1 to ${SPEC_LIMITS.concurrency}: set-based batches in flight, or, partition by ` +
      'partition, partitions of a batch. Example: 4.',
    examples: [4],
  },
  'execution.pause_during_live_pipeline': {
    description: 'Wait before each batch while the live pipeline runs (see live_pipeline). Default false.',
    examples: [true],
  },
  'execution.order': {
    description:
      'Batch order, oldest_first or newest_first; batches are fixed by the plan, never recomputed from the ' +
      'clock. Default oldest_first.',
    examples: ['newest_first'],
  },
  'execution.batch_mode': {
    description:
      'auto: a batch is one DELETE + INSERT over its range when preparation proves the transform decomposable, ' +
      'otherwise partition by partition; partition: always partition by partition. Default auto.',
    examples: ['partition'],
  },
  'execution.query_timeout': {
    description:
      `Per-statement timeout, ${between('execution.query_timeout')}; the statement is cancelled when it ` +
      'elapses. Default 30m, e.g. 15m.',
    examples: ['15m'],
  },
  'execution.daily_scan_budget': {
    description:
      'Bytes the backfill may scan per UTC day; when spent it waits for the next day. No budget by default; ' +
      'at most 1 EB, e.g. "2 TB" or "500 GB".',
    examples: ['2 TB', '500 GB'],
  },
  'execution.live_pipeline': {
    description:
      'How to tell that the live pipeline is running, for pause_during_live_pipeline: its signals and, ' +
      'optionally, a visibility query. Example: { signals: true, poll_interval: 30s }.',
  },
  'execution.live_pipeline.visibility_query': {
    description:
      'Temporal visibility query matching a running live pipeline, asked at most once per poll_interval; ' +
      `none by default, at most ${count(SPEC_LIMITS.textChars)} characters, e.g. ` +
      `"WorkflowType = 'dailyRevenuePipeline' AND ExecutionStatus = 'Running'".`,
    examples: ["WorkflowType = 'dailyRevenuePipeline' AND ExecutionStatus = 'Running'"],
  },
  'execution.live_pipeline.signals': {
    description: 'Listen for the live pipeline\'s live_pipeline_started and live_pipeline_finished signals. ' +
      'Default true.',
    examples: [false],
  },
  'execution.live_pipeline.poll_interval': {
    description:
      `How often the visibility query is asked, ${between('execution.live_pipeline.poll_interval')}. ` +
      'Default 1m, e.g. 30s.',
    examples: ['30s'],
  },
  'execution.pause_windows': {
    description:
      'UTC windows in which no batch starts (e.g. around the nightly live load), at most ' +
      `${SPEC_LIMITS.pauseWindows}. Default none, e.g. [{ start: "01:00", end: "03:00" }].`,
    examples: [[{ start: '01:00', end: '03:00' }]],
  },
  'execution.pause_windows[]': {
    description: 'One UTC window in which no batch starts; an end before the start crosses midnight. ' +
      'Example: { start: "23:00", end: "01:00" }.',
  },
  'execution.pause_windows[].start': {
    description: 'Start of the window, UTC time "HH:MM". Example: "01:30".',
    examples: ['01:30'],
  },
  'execution.pause_windows[].end': {
    description:
      'End of the window, UTC time "HH:MM"; before the start it crosses midnight, equal to it is refused. ' +
      'Example: "03:00".',
    examples: ['03:00'],
  },

  validation: {
    description:
      'What every batch, and the whole range before approval, must satisfy: row counts, measures, ' +
      'non-null columns and custom checks. Example: { row_count_tolerance: 0 }.',
  },
  'validation.row_count_tolerance': {
    description:
      'Allowed relative row-count change per partition (required): a fraction 0..1 or a percentage, ' +
      'e.g. 0, 0.01 or "1%".',
    examples: [0, 0.01, '1%'],
  },
  'validation.revenue_delta_expected': {
    description:
      "The seed article's shorthand: expected change of revenue_measure's sum over the whole range, " +
      'as measures.<column>.expected_delta (a conflict with it is refused). Example: "-1.5% to -0.8%".',
    examples: ['-1.5% to -0.8%'],
  },
  'validation.revenue_measure': {
    description: 'The measure column revenue_delta_expected applies to. Default net_revenue.',
    examples: ['net_revenue'],
  },
  'validation.measures': {
    description:
      `Expectations on measure columns' sums, keyed by column name, at most ${SPEC_LIMITS.measures}. ` +
      'Default none, e.g. { net_revenue: { expected_delta: "+3% to +6%", batch_delta: "+1% to +8%" } }.',
    examples: [{ net_revenue: { expected_delta: '+3% to +6%', batch_delta: '+1% to +8%' } }],
  },
  'validation.measures.*': {
    description:
      "Expectations on this column's sum: over the whole range (expected_delta), and optionally per batch " +
      '(batch_delta) and per partition (partition_delta). Example: { expected_delta: "0%" }.',
  },
  'validation.measures.*.expected_delta': {
    description:
      "Expected change of the column's sum over the whole range, low first, signs as written (\"0%\" = " +
      'unchanged): a warning on the running total after every batch, a failure at the completion check ' +
      'before approval (an approver may accept it). Example: "+3% to +6%".',
    examples: ['+3% to +6%', '0%'],
  },
  'validation.measures.*.batch_delta': {
    description:
      "Band for one batch's sum; a batch outside it halts. Defaults to expected_delta; set it looser when " +
      'single batches legitimately vary more than the whole range, e.g. "+1% to +8%".',
    examples: ['+1% to +8%'],
  },
  'validation.measures.*.partition_delta': {
    description:
      "Band for each partition's sum: the batch halts naming every partition outside it with its delta. " +
      'Not checked when absent; e.g. "0% to +12%".',
    examples: ['0% to +12%'],
  },
  'validation.measures.*.abs_tolerance': {
    description:
      "Absolute difference treated as equal around the band's bounds, against float noise; an unchanged sum " +
      `still fails a band that expects a change. 0 to ${absToleranceMax}, default 0.005.`,
    examples: [0.005],
  },
  'validation.not_null': {
    description: 'Columns that must stay non-null, checked after every batch. Default none, e.g. ' +
      '[revenue_date, merchant_id].',
    examples: [['revenue_date', 'merchant_id']],
  },
  'validation.checks': {
    description:
      `Custom rules run after every batch, at most ${SPEC_LIMITS.checks}: each a SELECT returning the rows ` +
      'that break it (none is a pass). Default none; e.g. gross revenue per day equals staging.revenue_events.',
  },
  'validation.checks[]': {
    description: 'One custom rule: name, description, severity and sql. Example: { name: gross-matches-events, ' +
      'description: "gross revenue per day equals the events", sql: "SELECT ..." }.',
  },
  'validation.checks[].name': {
    description:
      'Names the check in verdicts, the checkpoint and the report: 1 to 64 lowercase letters, digits, "-" ' +
      'or "_", starting with a letter. Example: gross-matches-events.',
    examples: ['gross-matches-events'],
  },
  'validation.checks[].description': {
    description:
      `What the rule means, shown with its verdict; at most ${count(SPEC_LIMITS.textChars)} characters, ` +
      'e.g. "gross revenue per day equals the day\'s revenue events".',
    examples: ["gross revenue per day equals the day's revenue events"],
  },
  'validation.checks[].severity': {
    description:
      'fail halts the batch with retry or abort only (a custom rule may be about lost rows, so it is never ' +
      'accepted); warn is shown to the approver. Default fail.',
    examples: ['warn'],
  },
  'validation.checks[].sql': {
    description:
      `One read-only SELECT (at most ${count(SPEC_LIMITS.checkSqlChars)} characters, the transform's rules, ` +
      'no writing words) returning the rows that break the rule in the batch\'s range: :partition_start and ' +
      ':partition_end are bound, {{shadow}} and {{target}} name the shadow and production, other tables by ' +
      `name; the first ${SPEC_LIMITS.checkRowsKept} failing rows are kept. Example: "SELECT revenue_date FROM ` +
      '{{shadow}} WHERE revenue_date >= :partition_start AND revenue_date < :partition_end AND net_revenue > ' +
      'gross_revenue".',
  },
  'validation.sample_rows': {
    description: 'Changed rows kept per batch for the report, largest deltas first; 0 to 10,000. Default 100.',
    examples: [100],
  },
  'validation.allow_empty_partitions': {
    description:
      'For a fix that legitimately empties partitions (test users removed): a partition with production rows ' +
      'and none in the shadow then passes, listed as a warning, instead of failing. Default false.',
    examples: [true],
  },

  approval: {
    description: 'Who may approve publication and how (needed to run). Example: { approvers: [finance-controller] }.',
  },
  'approval.approvers': {
    description:
      `Who may approve publication (needed to run), 1 to ${SPEC_LIMITS.approvers} people or groups. ` +
      'Example: [finance-controller].',
    examples: [['finance-controller']],
  },
  'approval.allow_owner': {
    description: 'Whether the owner may approve their own backfill. Default false.',
    examples: [true],
  },
  'approval.timeout': {
    description:
      `How long to wait for a decision, ${between('approval.timeout')}; an expired wait fails the run. ` +
      'Default 7d, e.g. 3d.',
    examples: ['3d'],
  },
  'approval.require_signature': {
    description:
      'Decisions (approve, reject, accept, rollback, signoff) must be signed with a key listed in the ' +
      "worker's trusted keys file (BACKFILL_TRUSTED_KEYS), which the requester does not write. Default false.",
    examples: [true],
  },

  publish: {
    description: 'How the corrected range reaches production, in one atomic step. Default { mode: range }.',
  },
  'publish.mode': {
    description:
      'range replaces the range in the target in one transaction; view repoints publish.view to the shadow; ' +
      'swap exchanges the whole tables. Default range.',
    examples: ['view'],
  },
  'publish.view': {
    description:
      'The consumer-facing view repointed in one statement; required when mode is view. ' +
      'Example: finance.daily_revenue_current.',
    examples: ['finance.daily_revenue_current'],
  },

  rollback: {
    description:
      'The restore point, and the window after publish in which a rollback stays available and monitors ' +
      'watch. Example: { snapshot: finance.daily_revenue_pre_FIN_2841, window: 14d }.',
  },
  'rollback.snapshot': {
    description:
      'Restore point: a copy of the trusted result taken before any write. It must not exist; the backfill ' +
      'creates it, records its fingerprint and rolls back only from it. Example: finance.daily_revenue_pre_FIN_2841.',
    examples: ['finance.daily_revenue_pre_FIN_2841'],
  },
  'rollback.window': {
    description:
      `How long the rollback stays available after publish, ${between('rollback.window')}. Default 7d, e.g. 14d.`,
    examples: ['14d'],
  },
  'rollback.cleanup': {
    description:
      'When the snapshot and shadow may be dropped: after_signoff or after_window. Default after_signoff.',
    examples: ['after_window'],
  },
  'rollback.operators': {
    description:
      'Who may roll back besides the approvers and the owner (on-call, data platform), at most ' +
      `${SPEC_LIMITS.operators}. Default none, e.g. [data-platform-oncall].`,
    examples: [['data-platform-oncall']],
  },
  'rollback.monitors': {
    description:
      `Watches after publish, at most ${SPEC_LIMITS.monitors}: each a SELECT whose value is compared with a ` +
      'threshold or an expected value right after publish and then every interval while the window is open; ' +
      "a breach blocks signoff. Default none; e.g. no month's net revenue moved more than 2% from the restore point.",
  },
  'rollback.monitors[]': {
    description:
      'One watch: name, description, sql, a threshold (min, max) or an expected value (equals), interval ' +
      'and on_breach. Example: { name: monthly-totals, description: "...", sql: "SELECT ...", max: 0 }.',
  },
  'rollback.monitors[].name': {
    description:
      'Names the monitor in status, the audit log and the report: 1 to 64 lowercase letters, digits, "-" ' +
      'or "_", starting with a letter. Example: monthly-totals.',
    examples: ['monthly-totals'],
  },
  'rollback.monitors[].description': {
    description:
      `What is watched, shown with its result; at most ${count(SPEC_LIMITS.textChars)} characters, ` +
      'e.g. "monthly net revenue stays put".',
    examples: ['monthly net revenue stays put'],
  },
  'rollback.monitors[].sql': {
    description:
      `One read-only SELECT (at most ${count(SPEC_LIMITS.checkSqlChars)} characters, no writing words, no ` +
      ":parameters) whose first row's first column is the value; {{target}} and {{snapshot}} name production " +
      'and the restore point, other tables by name. Example: "SELECT COUNT(*) FROM {{target}} WHERE net_revenue < 0".',
  },
  'rollback.monitors[].min': {
    description: 'A breach when the value is below this; give min, max or equals. Example: 0.',
    examples: [0],
  },
  'rollback.monitors[].max': {
    description: 'A breach when the value is above this (at least min); give min, max or equals. Example: 0.',
    examples: [0],
  },
  'rollback.monitors[].equals': {
    description:
      'Expected value: a breach when the value differs from it by more than tolerance; give min, max or ' +
      'equals. Example: 1250000.',
    examples: [1250000],
  },
  'rollback.monitors[].tolerance': {
    description: `Allowed difference from equals, 0 to ${absToleranceMax}. Default 0, e.g. 0.01.`,
    examples: [0.01],
  },
  'rollback.monitors[].interval': {
    description:
      'How often the monitor is evaluated after its first run right after publish, ' +
      `${between('rollback.monitors.interval')}. Default 1h, e.g. 15m.`,
    examples: ['15m'],
  },
  'rollback.monitors[].on_breach': {
    description:
      'block: a breach blocks signoff until the monitor passes again; rollback: the workflow rolls back by ' +
      'itself and records why. Default block.',
    examples: ['rollback'],
  },
};

/** A JSON Schema node, as zod's toJSONSchema emits it. */
type Node = Record<string, unknown>;

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `jsonSchema` with SPEC_DOC on the root and each FIELD_DOCS entry's description (and examples) on
 * the node at its path; the input is not changed. A node reached through a `$ref` is described by
 * the path it is first reached at. `docs` and `rootDoc` describe another schema the same way (the
 * release graph's, domain/graph/field-docs.ts).
 */
export function describeSchema<T extends object>(
  jsonSchema: T,
  docs: Readonly<Record<string, FieldDoc>> = FIELD_DOCS,
  rootDoc: string = SPEC_DOC,
): T {
  // Through JSON, not structuredClone: a node zod shares between two paths must get each path's help.
  const root = JSON.parse(JSON.stringify(jsonSchema)) as Node;
  const defs = { ...(isNode(root.$defs) ? root.$defs : {}), ...(isNode(root.definitions) ? root.definitions : {}) };
  const visited = new Set<Node>(); // $ref cycles

  const walk = (node: Node, path: string): void => {
    if (visited.has(node)) return;
    visited.add(node);
    const ref = typeof node.$ref === 'string' ? /^#\/(?:\$defs|definitions)\/(.+)$/.exec(node.$ref) : null;
    const target = ref ? defs[ref[1]!] : undefined;
    if (isNode(target)) walk(target, path);
    if (isNode(node.properties)) {
      for (const [key, child] of Object.entries(node.properties)) {
        if (isNode(child)) visit(child, path ? `${path}.${key}` : key);
      }
    }
    if (isNode(node.items)) visit(node.items, `${path}[]`);
    if (isNode(node.additionalProperties)) visit(node.additionalProperties, `${path}.*`);
    for (const wrapper of ['anyOf', 'oneOf', 'allOf'] as const) {
      const branches = node[wrapper];
      if (!Array.isArray(branches)) continue;
      for (const branch of branches) if (isNode(branch)) walk(branch, path);
    }
  };
  const visit = (node: Node, path: string): void => {
    const doc = docs[path];
    if (doc) withHelpFirst(node, doc);
    walk(node, path);
  };

  withHelpFirst(root, { description: rootDoc });
  walk(root, '');
  return root as T;
}

/** Sets the help in place, ahead of the node's other keys, so `backfill schema` reads help first. */
function withHelpFirst(node: Node, doc: FieldDoc): void {
  const rest = { ...node };
  const examples = doc.examples ?? rest.examples;
  delete rest.description;
  delete rest.examples;
  for (const key of Object.keys(node)) delete node[key];
  Object.assign(node, { description: doc.description }, examples === undefined ? {} : { examples }, rest);
}
