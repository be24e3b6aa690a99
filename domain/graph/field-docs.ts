/**
 * Help for every field of a release graph spec, for editors, as domain/spec/field-docs.ts is for a
 * single spec: the blocks a node shares with a spec (target, transform, validation, publish,
 * execution, monitors) reuse that help under their graph path, and the release's own fields say what
 * they mean for the whole release. test/domain/graph/field-docs.test.ts fails when a field of
 * domain/graph/schema.ts has no entry here, when an entry names no field, or when a description does
 * not state the field's default.
 */
import { GRAPH_LIMITS, SPEC_LIMITS } from '../../contracts/limits';
import { describeSchema, FIELD_DOCS, type FieldDoc } from '../spec/field-docs';

/** Help on the graph spec as a whole (the schema's root). */
export const GRAPH_DOC =
  'A release: a fix and every table derived from it, each table a node backfilled in dependency order ' +
  '(a node reads its upstream nodes\' corrected rows through {{ ref(\'schema.table\') }}), approved and ' +
  'published together and rolled back together. The release names the range, owner, reason, approval, ' +
  'rollback window and execution defaults once; each node is one table\'s backfill.';

/** FIELD_DOCS entries at `from` and below it, keyed by the same path under `to`. */
function reused(from: string, to: string): Record<string, FieldDoc> {
  return Object.fromEntries(
    Object.entries(FIELD_DOCS)
      .filter(([path]) => path === from || path.startsWith(`${from}.`) || path.startsWith(`${from}[`))
      .map(([path, doc]) => [`${to}${path.slice(from.length)}`, doc]),
  );
}

const executionNote = (doc: FieldDoc, where: string): FieldDoc =>
  ({ ...doc, description: `${doc.description} ${where}` });

/** The execution block's help, with what the release's defaults and a node's overrides mean. */
function executionDocs(to: string, where: string): Record<string, FieldDoc> {
  const docs = reused('execution', to);
  return Object.fromEntries(
    Object.entries(docs).map(([path, doc]) => [path, path === to ? executionNote(doc, where) : doc]),
  );
}

export const GRAPH_FIELD_DOCS: Readonly<Record<string, FieldDoc>> = {
  release_id: {
    description:
      `Names the release and, as <release_id>--<node id>, each node's backfill: 3 to ${GRAPH_LIMITS.releaseIdChars} ` +
      'lowercase letters, digits, "-" or "_", starting with a letter or digit. Example: revenue-release-2025-h1.',
    examples: ['revenue-release-2025-h1'],
  },
  owner: {
    description:
      'Owning team or person of the whole release, recorded on every node; may not approve unless ' +
      `approval.allow_owner is true. At most ${SPEC_LIMITS.nameChars} characters, e.g. finance-data.`,
    examples: ['finance-data'],
  },
  ...reused('reason', 'reason'),
  source_range: {
    description:
      "The release's range, both ends inclusive, at the finest grain of any node; a coarser node rewrites " +
      'the same range at its grain, so the range must start and end on its partitions. Example: ' +
      '{ start: 2025-01-01, end: 2025-06-30 } is 181 days and 6 months.',
  },
  'source_range.start': {
    description:
      'First partition, inclusive, at the grain: YYYY-MM-DD (day), YYYY-MM-DDTHH:00 (hour, UTC) or YYYY-MM ' +
      "(month); with a month node, a month's first day. Example: 2025-01-01.",
    examples: ['2025-01-01'],
  },
  'source_range.end': {
    description:
      "Last partition, inclusive, in the same format as start; with a month node, a month's last day. " +
      'Example: 2025-06-30.',
    examples: ['2025-06-30'],
  },
  'source_range.grain': {
    description:
      "The finest grain of any node: day, hour or month; a node's grain defaults to it. Default day, e.g. hour.",
    examples: ['day', 'hour'],
  },
  'source_range.max_partitions': {
    description:
      'Ceiling on partitions in the range at its grain (each node has at most as many); a larger range is ' +
      `refused unless allow_large_range is true. Default 1000, at most ${SPEC_LIMITS.maxPartitions} even with ` +
      'allow_large_range, e.g. 2208.',
    examples: [2208],
  },
  'source_range.allow_large_range': FIELD_DOCS['source_range.allow_large_range']!,
  ...reused('approval', 'approval'),
  approval: {
    description:
      'Who may approve the release (needed to run): one approval publishes every node. Example: ' +
      '{ approvers: [finance-controller] }.',
  },
  rollback: {
    description:
      'The window after publish in which the whole release can be rolled back (every node restored from its ' +
      "snapshot), and when snapshots and shadows may be dropped; each node's snapshot and monitors are in " +
      'nodes[].rollback. Default { window: 7d, cleanup: after_signoff }.',
  },
  'rollback.window': FIELD_DOCS['rollback.window']!,
  'rollback.cleanup': FIELD_DOCS['rollback.cleanup']!,
  'rollback.operators': FIELD_DOCS['rollback.operators']!,
  ...executionDocs(
    'execution',
    "Here, defaults for every node: a node's own execution overrides them field by field; " +
      'partitions_per_batch and max_concurrency must be set here or in every node.',
  ),

  nodes: {
    description:
      `The tables of the release, 1 to ${GRAPH_LIMITS.nodes}, in any order: each runs after the nodes it refs. ` +
      'Example: [{ target: { table: finance.daily_revenue, ... }, transform: { sql_file: ... }, ... }].',
  },
  'nodes[]': {
    description:
      "One table's backfill: target, transform, validation and publish as in a backfill spec, plus its id, " +
      'grain, the production tables it reads (inputs), execution overrides and its restore point.',
  },
  'nodes[].id': {
    description:
      `Names the node (1 to ${GRAPH_LIMITS.nodeIdChars} lowercase letters, digits or "_") and its backfill ` +
      '<release_id>--<id>; unique in the release. Default the last part of target.table, e.g. daily_revenue.',
    examples: ['daily_revenue'],
  },
  'nodes[].grain': {
    description:
      "The node's partition size: day, hour or month, the same as or coarser than each node it refs " +
      "(hour < day < month). Default the release's source_range.grain, e.g. month.",
    examples: ['month'],
  },
  ...reused('target', 'nodes[].target'),
  'nodes[].target.shadow_table': {
    description:
      'Where corrected history is built, and what other nodes read through {{ ref(target.table) }}; it must ' +
      'not exist. Default <table>__shadow_<release_id>__<id> ("-" as "_"), e.g. finance.daily_revenue_v2.',
    examples: ['finance.daily_revenue_v2'],
  },
  ...reused('transform', 'nodes[].transform'),
  'nodes[].transform.sql': {
    description:
      "One SELECT producing the target's columns for one partition, filtered with :partition_start and " +
      ":partition_end; {{ ref('schema.table') }} names another node's target.table and reads that node's " +
      'corrected rows (its shadow), and another table is read by name (list it in inputs). Give this or ' +
      `sql_file, at most ${SPEC_LIMITS.sqlChars} characters, e.g. "SELECT ... FROM ` +
      "{{ ref('finance.daily_revenue') }} WHERE revenue_date >= :partition_start AND revenue_date < :partition_end\".",
  },
  'nodes[].transform.sql_file': {
    description:
      "Path of a .sql file holding the transform (refs as in sql), relative to the release's spec file; give " +
      'this or sql. Example: sql/monthly-revenue.sql.',
    examples: ['sql/monthly-revenue.sql'],
  },
  'nodes[].inputs': {
    description:
      `Production tables the transform reads by name besides the nodes it refs, at most ${GRAPH_LIMITS.inputs}; ` +
      "their schemas are frozen when the release starts. A node's target listed here is read as published " +
      '(not corrected). Default none, e.g. [staging.revenue_events].',
    examples: [['staging.revenue_events']],
  },
  'nodes[].waits_for': {
    description:
      'What each of its partitions waits for in the nodes it refs before its batch starts (default partition): ' +
      'partition, the upstream partitions inside it (a month waits for its days); range_to_date, every upstream ' +
      "partition from the release's start to its end (a running total, which reads every month before it).",
    examples: ['partition', 'range_to_date'],
  },
  ...reused('validation', 'nodes[].validation'),
  ...reused('publish', 'nodes[].publish'),
  ...executionDocs('nodes[].execution', "Here, this node's overrides of the release's execution, field by field."),
  'nodes[].rollback': {
    description:
      "This node's restore point and the monitors watching its table after publish; the window and cleanup " +
      'are the release\'s. Example: { snapshot: finance.daily_revenue_pre_FIN_2841 }.',
  },
  'nodes[].rollback.snapshot': {
    description:
      "Restore point: a copy of the table's trusted rows taken before any write; it must not exist. " +
      'Default <target.table>_pre_<release_id> ("-" as "_"), e.g. finance.daily_revenue_pre_FIN_2841.',
    examples: ['finance.daily_revenue_pre_FIN_2841'],
  },
  ...reused('rollback.monitors', 'nodes[].rollback.monitors'),
};

/** `jsonSchema` (of graphSchema) with GRAPH_DOC on the root and GRAPH_FIELD_DOCS on every field. */
export function describeGraphSchema<T extends object>(jsonSchema: T): T {
  return describeSchema(jsonSchema, GRAPH_FIELD_DOCS, GRAPH_DOC);
}
